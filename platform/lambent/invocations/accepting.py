"""Accepting ``Event`` invocations on the api's event loop, in batches of what arrives together.

An accepted event costs a database commit and a broker message before its 202, and its message
costs the worker far more than its commit: about 2 ms of Celery's own work per message in the
worker's main process and 1 ms in the process that runs it, measured here, whatever the message
holds. So the events a process accepts at the same moment travel together: while one batch is
being stored, the events that arrive wait for the next, which is stored in one statement
(``asynchronous.store``) and published as one message naming them all, up to ``BATCH_MAX``; an
event that arrives alone goes at once, as a batch of one. The worker runs a batch's events one
after the other (``processing.process_batch``).

A batch is published while the next one is stored: a broker that does not answer costs each
caller ``REDIS_SOCKET_TIMEOUT`` at most, never a wait behind another batch's publishing. When the
broker did not take a batch's message, its invocations are withdrawn (but those a worker already
took: the broker had it after all) and their callers hear 503: they never run.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Coroutine, Sequence
from typing import Any

from lambent.api.threads import on_database_thread
from lambent.broker import BrokerUnavailable
from lambent.errors import ServiceUnavailable
from lambent.functions.models import Function
from lambent.iam.models import Tenant
from lambent.invocations import asynchronous, outbox
from lambent.invocations.asynchronous import Event
from lambent.invocations.models import Invocation

logger = logging.getLogger(__name__)

#: The most events stored and published together: a worker process runs them one after the other,
#: so a batch's last event waits for the others (8 gave the worker most of what batches save).
BATCH_MAX = 8

_store = on_database_thread(asynchronous.store)
_withdraw = on_database_thread(asynchronous.withdraw)

Waiting = tuple[Event, "asyncio.Future[Invocation]"]


class Acceptor:
    """The batches of one event loop: at most one being stored, any number being published."""

    def __init__(self) -> None:
        self._waiting: list[Waiting] = []
        self._storing = False
        self._publishing: set[asyncio.Task[None]] = set()

    async def accept(self, event: Event) -> Invocation:
        future: asyncio.Future[Invocation] = asyncio.get_running_loop().create_future()
        self._waiting.append((event, future))
        if not self._storing:
            self._storing = True
            self._spawn(self._store_waiting())
        return await future

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._publishing.add(task)  # a task nobody holds may be collected before it ends
        task.add_done_callback(self._publishing.discard)

    async def _store_waiting(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:BATCH_MAX], self._waiting[BATCH_MAX:]
                try:
                    invocations = await _store([event for event, _ in batch])
                except BaseException as exc:  # each caller hears it, as it would alone; none waits for ever
                    _answer(batch, error=exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                self._spawn(_publish(batch, invocations))
        finally:
            self._storing = False


async def _publish(batch: Sequence[Waiting], invocations: Sequence[Invocation]) -> None:
    try:
        await _publish_or_withdraw(batch, invocations)
    except BaseException as exc:  # each caller hears it, as it would alone; none waits for ever
        _answer(batch, error=exc)
        if not isinstance(exc, Exception):
            raise


async def _publish_or_withdraw(batch: Sequence[Waiting], invocations: Sequence[Invocation]) -> None:
    try:
        await outbox.publish_async(task=outbox.RUN_INVOCATION, keys=[str(i.request_id) for i in invocations])
    except BrokerUnavailable as exc:
        withdrawn = await _withdraw(invocations)
        if withdrawn:
            logger.warning("%d event invocations refused: the broker did not take them (%s)", len(withdrawn), exc)
        refused = ServiceUnavailable("The invocation could not be queued: the message broker did not answer. "
                                     "Nothing will run; try again.")
        refused.__cause__ = exc
        for (_, future), invocation in zip(batch, invocations, strict=True):
            _settle(future, error=refused if invocation.pk in withdrawn else None, result=invocation)
        return
    for (_, future), invocation in zip(batch, invocations, strict=True):
        _settle(future, result=invocation)


def _answer(batch: Sequence[Waiting], *, error: BaseException) -> None:
    for _, future in batch:
        _settle(future, error=error)


def _settle(future: asyncio.Future[Invocation], *, error: BaseException | None = None,
            result: Invocation | None = None) -> None:
    if future.done():  # its caller went away
        return
    if error is not None and not isinstance(error, Exception):  # the loop is shutting down
        future.cancel()
    elif error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)  # type: ignore[arg-type]


_acceptors: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Acceptor] = weakref.WeakKeyDictionary()


async def accept_event(*, tenant: Tenant, function: Function, qualifier: str | None, payload: bytes) -> Invocation:
    """Store an ``Event`` invocation and publish it: the invocation, once the broker has its
    message. A user error when the event may not be accepted, ``ServiceUnavailable`` (503) when the
    database or the broker did not take it, and then it never runs."""
    event = Event(tenant=tenant, function=function, qualifier=qualifier, payload=asynchronous.check_event(payload))
    loop = asyncio.get_running_loop()
    acceptor = _acceptors.get(loop)
    if acceptor is None:
        acceptor = _acceptors[loop] = Acceptor()
    return await acceptor.accept(event)
