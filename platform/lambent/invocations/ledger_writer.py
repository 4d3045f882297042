"""The ledger rows of synchronous invocations, written in batches by the api process.

A synchronous caller has its answer from the executor; the ledger row that records the
invocation is for later. Written one at a time, each row cost a hop to a database thread,
an INSERT and a commit: 0.7 ms of the response when written before it, and still 0.5 ms
of the next invocation's when written right after it (the write competes with the event
loop for the GIL and for the CPUs). So while the api process serves, ``record`` only adds
the row to a batch, and the batch is written ``LAMBENT_LEDGER_LINGER_MS`` later with one
INSERT in one transaction, on one of the long-lived database threads (``lambent.api.threads``).

The writer lives from the ASGI lifespan's startup to its shutdown, which writes what is
left (``lambent.asgi``). Without one running (Django's test client, a shell, the worker)
``record`` writes the row at once.

A row is a ``LedgerRow`` (plain values, no model instance) and a batch is one ``executemany`` of
the INSERT ``lambent.invocations.statements`` builds from the ``Invocation`` model's own fields:
building an ``Invocation`` per call and ``bulk_create``-ing them cost a fifth of the api's CPU per
warm invocation.

Invocations whose key and routing the api remembers (``hot_cache``) run while the database
is away; their rows wait, ``BACKLOG_MAX`` at most, and are written once it answers again
(tried every ``RETRY_S``). A batch the database refuses for what it holds is written row by
row: a row whose function was deleted meanwhile is kept without it (the ledger outlives its
functions, by name), any other refused row is logged and dropped. What batching gives up:
the rows of the last linger (or of a database outage) when the api process is killed
outright; their callers have their results.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import DataError, IntegrityError, InterfaceError, OperationalError, connection, transaction

from lambent.api.threads import on_database_thread
from lambent.invocations import statements
from lambent.invocations.models import Invocation, InvocationType

logger = logging.getLogger(__name__)

#: The most rows one INSERT writes.
BATCH_MAX = 500
#: Rows kept while the database does not answer; beyond, the oldest are dropped (and logged).
BACKLOG_MAX = 10_000
#: How often a database that did not answer is tried again.
RETRY_S = 1.0


@dataclass(slots=True)
class LedgerRow:
    """A synchronous invocation's ledger row, as its fields' values; every other field of
    ``Invocation`` takes its default. ``created_at`` is ``started_at``."""

    request_id: uuid.UUID | str
    tenant_id: int | None
    function_id: int | None
    function_name: str
    qualifier: str
    executed_version: str
    status: str
    started_at: datetime
    finished_at: datetime | None = None
    function_error: str = ""
    duration_ms: float | None = None
    billed_duration_ms: int | None = None
    max_memory_used_mb: int | None = None
    init_duration_ms: float | None = None
    error_type: str = ""
    error_message: str = ""
    log_tail: str = ""


#: ``LedgerRow``'s fields, which are ``Invocation``'s too.
_GIVEN = LedgerRow.__slots__


def _fields(row: LedgerRow) -> statements.Row:
    given = {name: getattr(row, name) for name in _GIVEN}
    given["created_at"] = row.started_at
    given["invocation_type"] = InvocationType.REQUEST_RESPONSE.value
    return given


@dataclass(slots=True)
class _Prepared:
    """A row with its values as the database takes them. They are prepared on the event loop once
    the invocation's response is on its way (``LedgerWriter.add``), a row per invocation: prepared
    on the database thread, a batch of a hundred rows held the GIL there for some 2 ms, which every
    request arriving meanwhile waited out (warm invocations' p99). The driver's own work on a
    batch lets the GIL go while SQLite or the server works."""

    row: LedgerRow
    values: list[Any] | None = None


def _prepare(prepared: _Prepared) -> list[Any]:
    if prepared.values is None:
        row = prepared.row
        prepared.values = statements.table_of(Invocation).values(_fields(row), now=row.started_at)
    return prepared.values


@on_database_thread
def _insert(rows: list[_Prepared]) -> None:
    sql = statements.insert_sql(Invocation)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, [_prepare(prepared) for prepared in rows])
    except (IntegrityError, DataError):  # one refused row fails them all: write them one by one
        for prepared in rows:
            _insert_alone(prepared, sql)


def _insert_alone(prepared: _Prepared, sql: str) -> None:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, _prepare(prepared))
    except (IntegrityError, DataError) as exc:
        row = prepared.row
        if isinstance(exc, IntegrityError) and row.function_id is not None:
            row.function_id = None  # deleted since it ran: the row keeps its name
            _insert_alone(_Prepared(row), sql)
        else:
            logger.exception("a synchronous invocation could not be written to the ledger")


class LedgerWriter:
    def __init__(self, *, linger_s: float) -> None:
        self._linger_s = linger_s
        self._rows: list[_Prepared] = []
        self._writing: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._one_at_a_time = asyncio.Lock()  # the linger's turn and a reader's (``write_waiting``)

    @property
    def waiting(self) -> bool:
        return bool(self._rows)

    def add(self, row: LedgerRow) -> None:
        prepared = _Prepared(row)
        self._rows.append(prepared)
        asyncio.get_running_loop().call_soon(_prepare, prepared)  # once the caller's task lets the loop go
        if self._writing is None:
            self._writing = asyncio.get_running_loop().create_task(self._write_soon())

    async def _write_soon(self) -> None:
        """The one task that writes while rows wait (``close`` writes only after it ended)."""
        delay = self._linger_s
        while self._rows:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._closing.wait()
            written = await self._write_pending()
            if not written and self._closing.is_set():
                break
            delay = self._linger_s if written else RETRY_S
        self._writing = None

    async def _write_pending(self) -> bool:
        """Write the waiting rows, a batch at a time; False if the database did not answer."""
        async with self._one_at_a_time:
            return await self._write_batches()

    async def _write_batches(self) -> bool:
        while self._rows:
            batch = self._rows[:BATCH_MAX]
            try:
                await _insert(batch)
            except (OperationalError, InterfaceError) as exc:
                self._bound_backlog()
                logger.warning("the ledger waits for the database (%d rows): %s", len(self._rows), exc)
                return False
            except Exception:  # trying again would not help
                logger.exception("%d synchronous invocations could not be written to the ledger", len(batch))
            del self._rows[:len(batch)]  # rows added meanwhile are behind them
        return True

    async def write_now(self) -> None:
        await self._write_pending()

    def _bound_backlog(self) -> None:
        excess = len(self._rows) - BACKLOG_MAX
        if excess > 0:
            del self._rows[:excess]
            logger.error("%d synchronous invocations were dropped from the ledger: the database is away", excess)

    async def close(self) -> None:
        """Write every row added so far, without waiting out the linger."""
        self._closing.set()
        if self._writing is not None:
            await self._writing
        if not await self._write_pending():
            logger.error("%d synchronous invocations could not be written to the ledger at shutdown",
                         len(self._rows))


_writer: LedgerWriter | None = None


def start() -> None:
    """Batch the rows from now on (unless the linger is 0: then each is written at once)."""
    global _writer
    _writer = LedgerWriter(linger_s=settings.LEDGER_LINGER_MS / 1000) if settings.LEDGER_LINGER_MS else None


async def stop() -> None:
    global _writer
    writer, _writer = _writer, None
    if writer is not None:
        await writer.close()


def write_waiting() -> None:
    """Write the rows this process holds now, from the thread of a view that reads the ledger:
    an invocation is found there as soon as it has answered (its api process answers the read).
    Rows the database does not take now stay for the writer's next try."""
    writer = _writer
    if writer is not None and writer.waiting:
        async_to_sync(writer.write_now)()


async def record(row: LedgerRow) -> None:
    """Write ``row``: in the next batch while the writer runs, else now."""
    if _writer is not None:
        _writer.add(row)
    else:
        await _insert([_Prepared(row)])
