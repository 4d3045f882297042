"""Asynchronous invocations through every fault a single host sees, under load.

Each test sends events through the native API from four clients for the whole time one part of
the platform fails and comes back, then checks every accepted event (``load.check``): none lost,
none with two terminal records, no two runs of one event at once, none run again after a run of
it ended (except runs in flight in a process the fault killed), no refused event run, and every
event ended within ``BOUND_S`` of its acceptance or of the fault's end.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import pytest

from lambent.invocations.models import Attempt, Invocation, InvocationStatus
from tests.faults.conftest import REPORTS
from tests.faults.load import Load, check, wait_until_ended
from tests.faults.stack import Blackhole, Stack, kill_group, pause, terminate_database_connections
from tests.processes import wait_until

#: Seconds after which every event accepted during or before a fault must have ended.
BOUND_S = 30.0
#: How long a Redis outage lasts.
OUTAGE_S = 20.0
#: How long a killed process stays down before it is started again.
DOWN_S = 5.0
#: How often every database connection is ended, a quarter of a second apart.
TERMINATIONS = 20
#: Seconds of load before the fault and after it.
BEFORE_S, AFTER_S = 4.0, 4.0


@pytest.fixture
def key(tenant) -> str:
    credentials = tenant.credentials
    return f"{credentials.access_key_id}:{credentials.secret_access_key}"


def through(stack: Stack, key: str, *, fault: str, inject: Callable[[], tuple[float, float] | None],
            killed_attempts: bool = False, workers_lost: bool = False) -> None:
    """Send load, ``inject`` the fault (it returns once the fault is over, with the moment it
    killed something when it did), check the outcome and keep its report."""
    stack.create_function("sidefx", key=key)
    successes = stack.create_queue("successes", key=key)
    failures = stack.create_queue("failures", key=key)
    stack.send_records_to("sidefx", on_success=successes, on_failure=failures, key=key)
    load = Load(stack, function="sidefx", key=key).start()
    time.sleep(BEFORE_S)
    killed_at = inject()
    fault_ended_at = time.time()
    time.sleep(AFTER_S)
    load.stop()
    load_ended_at = time.time()
    request_ids = [answer.request_id for answer in load.accepted if answer.request_id]
    ended = wait_until_ended(request_ids, timeout=BOUND_S + AFTER_S)
    report = check(fault=fault, load=load, stack=stack, success_queue="successes", fault_ended_at=fault_ended_at,
                   load_ended_at=load_ended_at, allowed_rerun=killed_at if killed_attempts else None)
    REPORTS.append(report)
    assert report.accepted >= 100, report
    assert ended, f"{report.lost} events never ended\n{stack.logs()}"
    assert report.violations == 0, f"{report}\n{stack.logs()}"
    assert report.slowest_s <= BOUND_S, report
    if not workers_lost:  # a lost worker's attempts are the only ones recorded so
        assert report.worker_lost_records == 0, report
    # An executor outage costs the attempts in flight, not one per event: workers wait for it.
    assert report.platform_error_attempts <= 2 * len(stack.workers) * stack.concurrency, report


def test_every_worker_killed_mid_attempt_and_restarted(stack, key):
    def inject() -> tuple[float, float]:
        wait_until(lambda: Invocation.objects.filter(status=InvocationStatus.RUNNING).exists(), timeout=10,
                   interval=0.01, what="an attempt to run")
        killed_at = time.time()
        for worker in stack.workers:
            assert worker is not None
            kill_group(worker)
        time.sleep(DOWN_S)
        for index in range(len(stack.workers)):
            stack.start_worker(index)
        return killed_at, killed_at
    through(stack, key, fault="every worker SIGKILLed mid-attempt, restarted after 5 s", inject=inject,
            killed_attempts=True, workers_lost=True)
    interrupted = Attempt.objects.filter(error_type="Lambent.WorkerLost")
    assert interrupted.exists()
    for attempt in interrupted:  # each taken over, and run to its end by the next attempt
        assert attempt.invocation.attempts.filter(number=attempt.number + 1, outcome="succeeded").exists()


def test_redis_killed_and_restarted_empty(stack, key):
    def inject() -> None:
        stack.redis.signal(signal.SIGKILL)  # no persistence: every queued message is gone
        time.sleep(DOWN_S)
        stack.redis.start()
    through(stack, key, fault="Redis SIGKILLed, restarted after 5 s", inject=inject)


def test_redis_paused(stack, key):
    through(stack, key, fault="Redis SIGSTOPped for 20 s", inject=lambda: pause(stack.redis, OUTAGE_S))


def test_redis_blackholed(stack, key):
    def inject() -> None:
        partition = Blackhole(stack.redis.port)
        partition.drop()
        try:
            time.sleep(OUTAGE_S)
        finally:
            partition.lift()
    through(stack, key, fault="Redis blackholed (nftables) for 20 s", inject=inject)


def test_database_connections_terminated(stack, key):
    def inject() -> None:
        for _ in range(TERMINATIONS):
            assert terminate_database_connections() > 0
            time.sleep(0.25)
    through(stack, key, fault=f"PostgreSQL connections terminated {TERMINATIONS} times in 5 s", inject=inject)


def test_the_executor_killed_and_restarted(stack, key):
    def inject() -> tuple[float, float]:
        assert stack.executor is not None
        killed_at = time.time()
        kill_group(stack.executor)
        time.sleep(DOWN_S)
        stack.start_executor()
        return killed_at, killed_at
    through(stack, key, fault="executor SIGKILLed, restarted after 5 s", inject=inject, killed_attempts=True)


def test_beat_killed_and_restarted(stack, key):
    def inject() -> None:
        assert stack.beat is not None
        kill_group(stack.beat)
        time.sleep(DOWN_S)
        stack.start_beat()
    through(stack, key, fault="beat SIGKILLed, restarted after 5 s", inject=inject)
