"""What keeps an attempt going through faults: its lease renewed while it runs and given up when it
cannot be, database writes retried through a blip, and a wait for an executor that went away."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import OperationalError
from django.utils import timezone

from lambent.functions.models import Function
from lambent.invocations import leases
from lambent.invocations.models import Invocation, InvocationStatus, InvocationType
from tests.processes import wait_until
from worker import executors


@pytest.fixture
def running(create_function, tenant, transactional_db) -> Invocation:
    create_function("leased")
    function = Function.objects.get(name="leased")
    return Invocation.objects.create(
        tenant=tenant.tenant, function=function, function_name=function.name, invocation_type=InvocationType.EVENT,
        # Far ahead, so that no sweeper of the session takes it over: a renewal brings it nearer.
        status=InvocationStatus.RUNNING, fence=3, lease_expires_at=timezone.now() + timedelta(hours=1),
        expires_at=timezone.now() + timedelta(hours=1))


def test_a_held_lease_is_renewed_while_its_attempt_runs(running, settings):
    settings.ASYNC_LEASE_SECONDS = 1.5
    first_expiry = running.lease_expires_at

    def renewed() -> bool:
        running.refresh_from_db()
        return running.lease_expires_at < first_expiry

    with leases.keeper.holding(pk=running.pk, fence=3) as held:
        # The keeper may be asleep for a third of an earlier lease setting (an earlier test's).
        wait_until(renewed, timeout=5, what="the lease to be renewed")
        assert not held.lost


def test_an_attempt_whose_lease_was_taken_over_is_stopped(running, settings):
    settings.ASYNC_LEASE_SECONDS = 1.5

    async def attempt(held: leases.Held) -> None:
        await leases.run_while_held(held, asyncio.ensure_future(asyncio.sleep(30)))

    with leases.keeper.holding(pk=running.pk, fence=3) as held:
        Invocation.objects.filter(pk=running.pk).update(fence=4)  # another worker's lease now
        started = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            asyncio.run(attempt(held))
        assert held.lost and time.monotonic() - started < 5  # within a renewal (an earlier setting's, maybe)


def test_a_write_is_tried_again_while_the_database_fails(settings):
    settings.ASYNC_RECORD_RETRY_SECONDS = 5
    calls = []

    def write() -> str:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise OperationalError("terminating connection due to administrator command")
        return "written"

    assert leases.retried(write, what="a test write") == "written"
    assert len(calls) == 3


def test_a_write_that_keeps_failing_gives_up_after_its_time(settings):
    settings.ASYNC_RECORD_RETRY_SECONDS = 0.3

    def write() -> None:
        raise OperationalError("the database is away")

    started = time.monotonic()
    with pytest.raises(OperationalError):
        leases.retried(write, what="a test write")
    assert 0.1 < time.monotonic() - started <= 0.5  # never a pause past its time


def test_after_an_executor_failure_attempts_wait_until_it_answers(settings, tmp_path: Path):
    settings.EXECUTOR = "worker.executors.client.ExecutorClient"
    settings.EXECUTOR_SOCKET = tmp_path / "executor.sock"
    executors.executor.cache_clear()
    listener = socket.socket(socket.AF_UNIX)

    def come_back() -> None:
        time.sleep(0.8)
        listener.bind(str(settings.EXECUTOR_SOCKET))
        listener.listen()

    try:
        leases.wait_for_executor()  # no failure seen: no wait, no probe
        leases.executor_failed()
        threading.Thread(target=come_back).start()
        started = time.monotonic()
        leases.wait_for_executor()
        assert 0.7 < time.monotonic() - started < 2.0
        started = time.monotonic()
        leases.wait_for_executor()  # it answered: the next attempts go at once
        assert time.monotonic() - started < 0.1
    finally:
        listener.close()
        executors.executor.cache_clear()
