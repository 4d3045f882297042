"""Asynchronous invocations when the broker forgets every message it held, on a Redis of the test's
own (never the machine's), with real api, worker and beat processes and real sandboxes. The fault
suite (``tests/faults``) breaks each part of a platform under load.

Whatever happens, the ledger must show every accepted event ended (succeeded, or failed
with exactly one failure record), none stuck, and no two attempts of one invocation at
the same time.
"""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from lambent.invocations.models import Invocation, InvocationStatus
from lambent.queues.models import Message
from tests.invocations.async_helpers import ECHO, create
from tests.processes import Process, RedisServer, platform_env, start_api, start_beat, start_worker, wait_until

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("executor_process")]


class Platform:
    """api, worker and beat processes on a Redis of the test's own."""

    def __init__(self, redis: RedisServer) -> None:
        self.redis = redis
        self.env = platform_env(LAMBENT_REDIS_URL=redis.url)
        self.processes: list[Process] = []
        self.api, self.base = start_api(self.env)
        self.processes.append(self.api)

    def worker(self, *, concurrency: int = 2) -> Process:
        worker = start_worker(self.env, concurrency=concurrency)
        self.processes.append(worker)
        return worker

    def beat(self) -> Process:
        beat = start_beat(self.env)
        self.processes.append(beat)
        return beat

    def post(self, path: str, body: Any, *, key: str, timeout: float = 30) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(self.base + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Authorization": f"Bearer {key}",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


@pytest.fixture
def platform() -> Iterator[Platform]:
    redis = RedisServer().start()
    platform = Platform(redis)
    yield platform
    platform.stop()
    redis.stop()


@pytest.fixture
def key(tenant) -> str:
    credentials = tenant.credentials
    return f"{credentials.access_key_id}:{credentials.secret_access_key}"


def accept(platform: Platform, key: str, function: str, event: Any) -> str:
    status, body = platform.post(f"/api/v1/functions/{function}/invoke?type=event", event, key=key)
    assert status == 202, body
    return str(body["request_id"])


def wait_all_ended(request_ids: list[str], *, timeout: float) -> None:
    def ended() -> bool:
        return not Invocation.objects.filter(request_id__in=request_ids).exclude(
            status__in=[InvocationStatus.SUCCEEDED, InvocationStatus.FAILED]).exists()
    wait_until(ended, timeout=timeout, interval=0.25, what=f"{len(request_ids)} invocations to end")


def assert_ledger(request_ids: list[str], *, failure_queue: str | None = None) -> None:
    """Every event ended once, failures landed once, attempts never overlapped."""
    invocations = list(Invocation.objects.filter(request_id__in=request_ids).prefetch_related("attempts"))
    assert len(invocations) == len(request_ids)
    failed = set()
    for invocation in invocations:
        assert invocation.status in (InvocationStatus.SUCCEEDED, InvocationStatus.FAILED), invocation.status
        if invocation.status == InvocationStatus.FAILED:
            failed.add(str(invocation.request_id))
        attempts = sorted(invocation.attempts.all(), key=lambda attempt: attempt.number)
        assert [attempt.number for attempt in attempts] == list(range(1, invocation.attempt_count + 1))
        for before, after in zip(attempts, attempts[1:], strict=False):
            assert after.started_at >= before.finished_at, f"attempts of {invocation.request_id} overlap"
    if failure_queue is not None:
        records = [json.loads(message.body)["requestContext"]["requestId"]
                   for message in Message.objects.filter(queue__name=failure_queue)]
        assert sorted(records) == sorted(failed)


def test_redis_killed_with_200_events_queued(platform, api, key):
    create(api, "echo", ECHO)
    platform.beat()
    request_ids = [accept(platform, key, "echo", {"n": n}) for n in range(200)]

    platform.redis.signal(signal.SIGKILL)  # no persistence: every queued message is gone
    platform.redis.start()
    platform.worker()

    wait_all_ended(request_ids, timeout=120)
    assert_ledger(request_ids)
    assert set(Invocation.objects.filter(request_id__in=request_ids).values_list("attempt_count", flat=True)) == {1}
