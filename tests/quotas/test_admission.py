"""Admission: slots as leases in Redis, taken atomically, given back, expiring on their own;
the synchronous invoke path's 429 and 503; a killed process leaks nothing past its lease."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from lambent.errors import ServiceUnavailable, Throttled
from lambent.quotas import admission, limits, slots
from tests.processes import RedisServer, free_port, platform_env, wait_until
from tests.quotas.conftest import reserve
from tests.test_metrics import count

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def pool(limit: int, *, reserved: bool = True, key: str = "") -> admission.Pool:
    return admission.Pool(key=key or f"lambent:concurrency:{{test}}:function:{time.monotonic_ns()}", limit=limit,
                          reserved=reserved, account_id="000000000000", function_name="f")


def test_slots_up_to_the_limit_then_a_throttle_with_the_reason():
    reserved = pool(2)
    first = admission.acquire(pool=reserved, lease_seconds=60)
    admission.acquire(pool=reserved, lease_seconds=60)

    with pytest.raises(Throttled) as refused:
        admission.acquire(pool=reserved, lease_seconds=60)

    assert refused.value.reason == limits.RESERVED_LIMIT_EXCEEDED and refused.value.retry_after >= 1
    admission.release(first)
    admission.acquire(pool=reserved, lease_seconds=60)
    with pytest.raises(Throttled) as unreserved:
        admission.acquire(pool=pool(0, reserved=False), lease_seconds=60)
    assert unreserved.value.reason == limits.ACCOUNT_LIMIT_EXCEEDED


def test_many_threads_at_once_never_take_more_than_the_limit():
    shared = pool(5)
    barrier = threading.Barrier(40)
    taken: list[admission.Slot] = []

    def race() -> None:
        barrier.wait()
        try:
            taken.append(admission.acquire(pool=shared, lease_seconds=60))
        except Throttled:
            pass

    threads = [threading.Thread(target=race) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == 5
    assert admission.in_use(keys=[shared.key]) == [5]


def test_a_lease_expires_without_a_release():
    short = pool(1)
    admission.acquire(pool=short, lease_seconds=0.2)
    with pytest.raises(Throttled):
        admission.acquire(pool=short, lease_seconds=0.2)
    time.sleep(0.3)
    assert admission.in_use(keys=[short.key]) == [0]
    admission.acquire(pool=short, lease_seconds=0.2)


def test_the_async_client_shares_the_counters():
    shared = pool(1)

    async def scenario() -> None:
        slot = await admission.acquire_async(pool=shared, lease_seconds=60)
        with pytest.raises(Throttled):
            admission.acquire(pool=shared, lease_seconds=60)
        await admission.release_async(slot)
        admission.release(admission.acquire(pool=shared, lease_seconds=60))

    asyncio.run(scenario())


def test_an_unreachable_redis_is_service_unavailable(settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        admission.acquire(pool=pool(1), lease_seconds=60)
    with pytest.raises(ServiceUnavailable):
        asyncio.run(admission.acquire_async(pool=pool(1), lease_seconds=60))
    assert time.monotonic() - started < 5
    admission.release(admission.Slot(key="k", token="t"))  # logged, and dropped: its lease is over


def test_slots_held_while_redis_hung_are_given_back_once_it_answers(settings):
    """A release that failed, and an acquire that failed but ran once Redis woke (its request was in
    Redis's socket), are both undone within a retry after Redis answers, not when their lease ends."""
    server = RedisServer().start()
    settings.REDIS_URL, settings.REDIS_SOCKET_TIMEOUT = server.url, 1
    shared = pool(5)
    try:
        held = admission.acquire(pool=shared, lease_seconds=600)
        server.signal(signal.SIGSTOP)
        try:
            admission.release(held)
            with pytest.raises(ServiceUnavailable):
                admission.acquire(pool=shared, lease_seconds=600)
        finally:
            server.signal(signal.SIGCONT)
        assert wait_until(lambda: admission.in_use(keys=[shared.key]) == [0], timeout=3, what="the slots back")
    finally:
        server.stop()


def test_a_throttled_sync_invoke_is_429_with_reason_and_retry_after(api, tenant, client, create_function,
                                                                    fake_executor, hold):
    create_function("one")
    assert reserve(api, "one", 1).status_code == 200
    assert api.post("/api/v1/functions/one/invoke", {}, format="json").status_code == 200  # the slot came back
    hold("one")
    before = client.get("/metrics").content.decode()

    response = api.post("/api/v1/functions/one/invoke", {}, format="json")

    assert response.status_code == 429, response.content
    assert response["Retry-After"] == str(limits.RETRY_AFTER_SECONDS)
    body = response.json()
    assert body["type"] == "TooManyRequestsException" and body["reason"] == limits.RESERVED_LIMIT_EXCEEDED
    assert "one" in body["message"]
    after = client.get("/metrics").content.decode()
    labels = {"tenant": tenant.tenant.account_id, "function": "one", "reason": limits.RESERVED_LIMIT_EXCEEDED}
    assert count(after, "lambent_throttles_total", **labels) - count(before, "lambent_throttles_total", **labels) == 1


def test_the_unreserved_pool_throttles_with_its_own_reason(api, create_function, fake_executor, hold, settings):
    settings.CONCURRENT_EXECUTIONS = 3
    settings.UNRESERVED_CONCURRENCY_MINIMUM = 1
    create_function("reserved")
    create_function("shared")
    assert reserve(api, "reserved", 2).status_code == 200
    hold("shared")

    response = api.post("/api/v1/functions/shared/invoke", {}, format="json")

    assert response.status_code == 429 and response.json()["reason"] == limits.ACCOUNT_LIMIT_EXCEEDED
    assert api.post("/api/v1/functions/reserved/invoke", {}, format="json").status_code == 200


def test_a_reservation_of_zero_throttles_every_sync_call(api, create_function, fake_executor):
    create_function("off")
    reserve(api, "off", 0)
    response = api.post("/api/v1/functions/off/invoke", {}, format="json")
    assert response.status_code == 429 and response.json()["reason"] == limits.RESERVED_LIMIT_EXCEEDED
    api.delete("/api/v1/functions/off/concurrency")
    assert api.post("/api/v1/functions/off/invoke", {}, format="json").status_code == 200


def test_a_sync_invoke_without_redis_is_503(api, create_function, fake_executor, settings):
    create_function("hello")
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = api.post("/api/v1/functions/hello/invoke", {}, format="json")
    assert response.status_code == 503 and response.json()["type"] == "ServiceUnavailableException"


def test_a_function_error_gives_the_slot_back(api, create_function, fake_executor):
    from tests.conftest import b64, make_zip

    create_function("fails", zip_file=b64(make_zip({"app.py": "def handler(e, c):\n    raise ValueError('x')\n"})))
    reserve(api, "fails", 1)
    for _ in range(3):  # one slot, back after each: none is throttled
        response = api.post("/api/v1/functions/fails/invoke", {}, format="json")
        assert response.status_code == 200 and response["X-Lambent-Function-Error"] == "Unhandled"
    assert slots.keeper.held() == 1  # kept for the next invocation, counted in use meanwhile
    assert api.get("/api/v1/account").json()["concurrent_executions_in_use"] == 1
    asyncio.run(slots.keeper.give_back_idle())
    assert api.get("/api/v1/account").json()["concurrent_executions_in_use"] == 0


HOLD_A_SLOT = """
import sys, time, django
django.setup()
from lambent.functions.models import Function
from lambent.quotas import admission, selectors
function = Function.objects.select_related("tenant").get(pk=int(sys.argv[1]))
version = function.versions.get(number=0)
lease = admission.lease_seconds(timeout=version.timeout)
admission.acquire(pool=selectors.pool_for(function=function), lease_seconds=lease)
print("acquired", flush=True)
time.sleep(600)
"""


@pytest.mark.django_db(transaction=True)
def test_a_killed_process_holds_its_slot_only_until_its_lease_expires(api, create_function, fake_executor):
    create_function("hello", timeout=1)
    reserve(api, "hello", 1)
    from lambent.functions.models import Function

    env = platform_env(LAMBENT_CONCURRENCY_LEASE_MARGIN_SECONDS="1", DJANGO_SETTINGS_MODULE="lambent.settings")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_A_SLOT, str(Function.objects.get(name="hello").pk)],
                              env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert holder.stdout is not None
    line = holder.stdout.readline()
    acquired_at = time.monotonic()
    assert line.strip() == "acquired", line + holder.stdout.read()
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)

    throttled = api.post("/api/v1/functions/hello/invoke", {}, format="json")
    assert throttled.status_code == 429, throttled.content

    def admitted() -> bool:
        return bool(api.post("/api/v1/functions/hello/invoke", {}, format="json").status_code == 200)
    wait_until(admitted, timeout=10, interval=0.1, what="the dead process's lease to expire")
    assert time.monotonic() - acquired_at >= 1.5  # the lease (timeout 1 s + margin 1 s) held until it ran out
