"""The platform's invocation ledger read straight from its SQLite file, read-only.

Waiting for asynchronous invocations through the API would load the api process while
the worker runs them; a read-only query of the file costs tens of microseconds and
never takes a lock a writer waits for (WAL). The timestamps are the ledger's own:
``timezone.now()`` of the api (``created_at``) and of the worker (``finished_at``), naive
UTC text that ``datetime.fromisoformat`` reads back.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

TABLE = "invocations_invocation"
TERMINAL = ("succeeded", "failed", "expired", "cancelled")


@dataclass(frozen=True)
class Entry:
    status: str
    created_at: float
    started_at: float | None
    finished_at: float | None


def epoch(value: str | None) -> float | None:
    """A ledger timestamp as seconds since the epoch, as ``time.time()`` gives them."""
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()


class Ledger:
    def __init__(self, database: Path) -> None:
        self._connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, isolation_level=None)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self._connection.close()

    def entry(self, request_id: str) -> Entry | None:
        found = self._connection.execute(
            f"SELECT status, created_at, started_at, finished_at FROM {TABLE} WHERE request_id = ?",
            (uuid.UUID(request_id).hex,)).fetchone()
        if found is None:
            return None
        created_at = epoch(found[1])
        assert created_at is not None
        return Entry(status=found[0], created_at=created_at, started_at=epoch(found[2]), finished_at=epoch(found[3]))

    def wait_ended(self, request_id: str, *, timeout: float = 30.0, poll: float = 0.001) -> Entry:
        """The invocation once it reached a terminal status (polled every ``poll`` seconds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            entry = self.entry(request_id)
            if entry is not None and entry.status in TERMINAL:
                return entry
            time.sleep(poll)
        raise TimeoutError(f"invocation {request_id} did not end within {timeout:.0f} s")

    def finished(self, function_name: str) -> tuple[int, int, float | None]:
        """(ended, of which succeeded, the latest ``finished_at``) of a function's invocations."""
        ended, succeeded, latest = self._connection.execute(
            f"SELECT count(*), sum(status = 'succeeded'), max(finished_at) FROM {TABLE} "
            f"WHERE function_name = ? AND status IN ({', '.join('?' * len(TERMINAL))})",
            (function_name, *TERMINAL)).fetchone()
        return ended, succeeded or 0, epoch(latest)

    def wait_finished(self, function_name: str, *, count: int, timeout: float = 120.0) -> tuple[int, float]:
        """Wait until ``count`` invocations of the function have ended: (succeeded, latest finish)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ended, succeeded, latest = self.finished(function_name)
            if ended >= count and latest is not None:
                return succeeded, latest
            time.sleep(0.02)
        raise TimeoutError(f"{function_name}: {count} invocations did not end within {timeout:.0f} s")
