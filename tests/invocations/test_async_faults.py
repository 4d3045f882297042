"""Asynchronous invocations under faults, each test on a Redis of its own that it kills or
pauses (never the machine's), with real api, worker and beat processes and real sandboxes.

Whatever happens, the ledger must show every accepted event ended (succeeded, or failed
with exactly one failure record), none stuck, and no two attempts of one invocation at
the same time.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambent.invocations.models import Invocation, InvocationStatus
from lambent.queues.models import Message
from tests.invocations.async_helpers import ECHO, configure, create, queue_arn
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


def test_a_worker_process_killed_mid_invocation(platform, api, key):
    create(api, "slow", ECHO, timeout=3)
    failures = queue_arn(api, "failures")
    configure(api, "slow", destination_config={"on_failure": {"destination": failures}})
    worker = platform.worker(concurrency=1)
    platform.beat()
    request_ids = [accept(platform, key, "slow", {"sleep": 1.5}) for _ in range(3)]
    running = wait_until(lambda: Invocation.objects.filter(status=InvocationStatus.RUNNING).first(), timeout=30,
                         what="an invocation to run")

    [child] = wait_until(lambda: _children(worker.pid), timeout=5, what="the worker's pool process")
    signal_sent_at = time.monotonic()
    os.kill(child, signal.SIGKILL)

    wait_all_ended(request_ids, timeout=60)
    assert_ledger(request_ids, failure_queue="failures")
    interrupted = Invocation.objects.get(pk=running.pk)
    outcomes = [attempt.outcome for attempt in interrupted.attempts.order_by("number")]
    assert outcomes == ["interrupted", "succeeded"], outcomes
    assert time.monotonic() - signal_sent_at < 60


def _children(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(status.parent.name))
    return found


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


def test_redis_paused_accept_fails_fast_and_dispatch_resumes(platform, api, key):
    create(api, "echo", ECHO)
    platform.worker()
    platform.beat()
    before = accept(platform, key, "echo", {"before": True})
    wait_all_ended([before], timeout=30)

    platform.redis.signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        status, body = platform.post("/api/v1/functions/echo/invoke?type=event", {"paused": True}, key=key)
        elapsed = time.monotonic() - started
        assert status == 503, body
        assert "broker" in body["message"]
        assert elapsed < 8, elapsed
    finally:
        platform.redis.signal(signal.SIGCONT)

    after = accept(platform, key, "echo", {"after": True})
    wait_all_ended([before, after], timeout=60)
    assert_ledger([before, after])
    time.sleep(2)  # a message the paused Redis took in anyway finds nothing to run: it was withdrawn
    assert Invocation.objects.count() == 2
