"""The ledger rows of synchronous invocations, written in batches by the api process.

A synchronous caller has its answer from the executor; the ledger row that records the
invocation is for later. Written one at a time, each row cost a hop to a database thread,
an INSERT and a commit: 0.7 ms of the response when written before it, and still 0.5 ms
of the next invocation's when written right after it (the write competes with the event
loop for the GIL and for the CPUs). So while the api process serves, ``record`` only adds
the row to a batch, and the batch is written ``LINGER_S`` later with one INSERT in one
transaction, on one of the long-lived database threads (``lambent.api.threads``).

The writer lives from the ASGI lifespan's startup to its shutdown, which writes what is
left (``lambent.asgi``). Without one running (Django's test client, a shell, the worker)
``record`` writes the row at once. What batching gives up: the rows of the last
``LINGER_S`` when the api process is killed outright; their callers have their results.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from lambent.api.threads import on_database_thread
from lambent.invocations.models import Invocation

logger = logging.getLogger(__name__)

#: How long a row waits for others to share its INSERT.
LINGER_S = 0.01
#: The most rows one INSERT writes.
BATCH_MAX = 500


@on_database_thread
def _insert(rows: list[Invocation]) -> None:
    Invocation.objects.bulk_create(rows)


class LedgerWriter:
    def __init__(self) -> None:
        self._rows: list[Invocation] = []
        self._writing: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()

    def add(self, row: Invocation) -> None:
        self._rows.append(row)
        if self._writing is None:
            self._writing = asyncio.get_running_loop().create_task(self._write_soon())

    async def _write_soon(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), LINGER_S)
        self._writing = None
        await self.write_pending()

    async def write_pending(self) -> None:
        while self._rows:
            batch, self._rows = self._rows[:BATCH_MAX], self._rows[BATCH_MAX:]
            try:
                await _insert(batch)
            except Exception:  # the database is away: say what is lost, and serve on
                logger.exception("%d synchronous invocations could not be written to the ledger", len(batch))

    async def close(self) -> None:
        """Write every row added so far, without waiting out the linger."""
        self._closing.set()
        if self._writing is not None:
            await self._writing
        await self.write_pending()


_writer: LedgerWriter | None = None


def start() -> None:
    global _writer
    _writer = LedgerWriter()


async def stop() -> None:
    global _writer
    writer, _writer = _writer, None
    if writer is not None:
        await writer.close()


async def record(row: Invocation) -> None:
    """Write ``row``: in the next batch while the writer runs, else now."""
    if _writer is not None:
        _writer.add(row)
    else:
        await _insert([row])
