"""What keeps an asynchronous attempt going through faults: its lease kept alive while it runs,
database writes retried through a blip, and a wait while the executor is away.

Leases. An attempt holds its invocation's lease (``fence``, ``lease_expires_at``) for
``ASYNC_LEASE_SECONDS`` at a time, and a thread of the worker process renews it every third of
that until the attempt's outcome is written; the queued invocations of the batch it runs are held
the same way until their turn. A worker that dies stops renewing, so its attempts are taken over
once their lease runs out, and the rest of its batch sent again, by the next message the sweeper sends: at most
``ASYNC_LEASE_SECONDS`` plus ``SWEEP_INTERVAL_SECONDS`` after it died, whatever the function's
timeout. Its connections to the sandboxes it borrowed died with it, and their agents stopped the
invocations at once (``runtimes/agent/supervisor.py``), so the takeover never runs beside it. A worker that cannot renew
(the database away for longer than the lease, or the attempt taken over meanwhile) stops its
invocation before anyone else may take the lease, for the same reason.

Retries. An attempt that ran to its end is recorded even when the database fails for a while:
the write is tried again with a doubling pause for ``ASYNC_RECORD_RETRY_SECONDS``, the lease
renewed meanwhile, instead of leaving the attempt to be run again when its lease runs out.

The executor. While it cannot be reached, a worker waits for it (``wait_for_executor``) before
taking a lease, trying every ``EXECUTOR_PROBE_SECONDS``: every worker process backs off at once,
the backlog stays queued, and attempts resume as soon as it answers, instead of one platform
error per event per second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from lambent.invocations.models import Invocation, InvocationStatus
from worker import executors

logger = logging.getLogger(__name__)

T = TypeVar("T")
#: How often a worker tries to reach an executor that was unreachable.
EXECUTOR_PROBE_SECONDS = 0.5


def lease_expiry() -> timedelta:
    return timedelta(seconds=settings.ASYNC_LEASE_SECONDS)


@dataclass(eq=False)
class Held:
    """One attempt's lease, as the keeper renews it; ``lost`` once it could not be."""

    pk: int
    fence: int
    renewed_at: float = field(default_factory=time.monotonic)
    lost: bool = False
    on_lost: Callable[[], object] | None = None


class Keeper:
    """The thread of a process that renews the leases of the attempts the process runs, and the
    holds of the queued events of the batch it runs (``waiting``)."""

    def __init__(self) -> None:
        self._held: set[Held] = set()
        self._waiting: list[set[str]] = []
        self._lock = threading.Lock()
        self._thread_pid = 0

    @contextlib.contextmanager
    def holding(self, *, pk: int, fence: int) -> Iterator[Held]:
        held = Held(pk=pk, fence=fence)
        with self._lock:
            self._held.add(held)
            self._started()
        try:
            yield held
        finally:
            with self._lock:
                self._held.discard(held)

    @contextlib.contextmanager
    def waiting(self, request_ids: Iterable[str]) -> Iterator[set[str]]:
        """Hold the queued invocations of ``request_ids`` while the block runs, each until it is
        taken out of the set it yields (its turn has come): a worker that dies before then leaves
        them to the sweeper once their hold runs out (``processing.sweep``), as it leaves its attempts.
        A hold is the invocation's ``lease_expires_at`` while it is still queued; it takes no slot."""
        waiting = set(request_ids)
        _hold(waiting)
        with self._lock:
            self._waiting.append(waiting)
            self._started()
        try:
            yield waiting
        finally:
            with self._lock:
                self._waiting.remove(waiting)

    def _started(self) -> None:
        if self._thread_pid != os.getpid():  # none yet, or the one of the parent this process forked from
            self._thread_pid = os.getpid()
            threading.Thread(target=self._renew_forever, name="lease-keeper", daemon=True).start()

    def _renew_forever(self) -> None:
        while True:
            time.sleep(settings.ASYNC_LEASE_SECONDS / 3)
            with self._lock:
                held, waiting = list(self._held), [set(ids) for ids in self._waiting]
            for lease in held:
                try:
                    self._renew(lease)
                except Exception:  # the thread must live on for the next leases
                    logger.exception("renewing the lease of invocation %d failed", lease.pk)
            for ids in waiting:
                try:
                    _hold(ids)
                except DatabaseError as exc:  # the sweeper may send them again: a second message is harmless
                    connection.close()
                    logger.warning("the holds of %d queued invocations were not renewed: %s", len(ids), exc)

    @staticmethod
    def _renew(held: Held) -> None:
        try:
            renewed = Invocation.objects.filter(pk=held.pk, fence=held.fence, status=InvocationStatus.RUNNING).update(
                lease_expires_at=timezone.now() + lease_expiry())
        except DatabaseError as exc:
            connection.close()  # a fresh one next time
            # Give up a third of a lease before anyone may take it: the attempt stops first.
            if time.monotonic() - held.renewed_at < settings.ASYNC_LEASE_SECONDS * 2 / 3:
                logger.warning("the lease of invocation %d was not renewed (%s); trying again", held.pk, exc)
                return
            renewed = 0
        if renewed:
            held.renewed_at = time.monotonic()
        elif not held.lost:
            held.lost = True
            logger.warning("invocation %d: the attempt lost its lease and is stopped", held.pk)
            if held.on_lost is not None:
                held.on_lost()


keeper = Keeper()


def _hold(request_ids: set[str]) -> None:
    if request_ids:
        Invocation.objects.filter(request_id__in=request_ids, status=InvocationStatus.QUEUED).update(
            lease_expires_at=timezone.now() + lease_expiry())


async def run_while_held(held: Held, work: asyncio.Future[T] | asyncio.Task[T]) -> T:
    """Await ``work``, cancelled if ``held`` is lost meanwhile (``asyncio.CancelledError`` then)."""
    loop = asyncio.get_running_loop()
    held.on_lost = lambda: loop.call_soon_threadsafe(work.cancel)
    if held.lost:
        work.cancel()
    try:
        return await work
    finally:
        held.on_lost = None


_TRANSIENT = (OperationalError, InterfaceError)


def retried(write: Callable[[], T], *, what: str) -> T:
    """``write()`` (a transaction of its own), tried again with a doubling pause while the database
    fails to answer, for ``ASYNC_RECORD_RETRY_SECONDS``; then the last error is raised."""
    deadline = time.monotonic() + settings.ASYNC_RECORD_RETRY_SECONDS
    pause = 0.05
    while True:
        try:
            return write()
        except _TRANSIENT as exc:
            if connection.in_atomic_block or time.monotonic() + pause > deadline:
                raise
            logger.warning("%s failed (%s); trying again in %.2f s", what, exc, pause)
            connection.close()
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


def atomic_retried(write: Callable[[], T], *, what: str) -> T:
    """``retried`` of ``write`` in a transaction."""
    def in_transaction() -> T:
        with transaction.atomic():
            return write()
    return retried(in_transaction, what=what)


_executor_failed = False


def executor_failed() -> None:
    """Note that an attempt could not reach the executor: the next ones wait for it."""
    global _executor_failed
    _executor_failed = True


def wait_for_executor() -> None:
    """Return at once unless an attempt of this process could not reach the executor; then once it
    can be reached again, or after ``ASYNC_EXECUTOR_WAIT_SECONDS`` (the attempt then fails as the
    executor makes it fail, a platform error, and waits its backoff)."""
    global _executor_failed
    if not _executor_failed:
        return
    backend = executors.executor()
    deadline = time.monotonic() + settings.ASYNC_EXECUTOR_WAIT_SECONDS
    while not executors.run_blocking(backend.reachable()):
        if time.monotonic() >= deadline:
            return
        time.sleep(EXECUTOR_PROBE_SECONDS)
    logger.warning("the executor answers again")
    _executor_failed = False
