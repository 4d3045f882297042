"""Long-lived threads for the database work of the invoke path.

Under ASGI, Django gives every request a thread of its own for synchronous code (its
``ThreadSensitiveContext``), and a database connection opened there dies with the request:
each invocation paid for a new connection (about 1 ms on SQLite, more with PostgreSQL's
handshake) and for statements prepared afresh. ``on_database_thread`` runs a function on
one of a few threads that live as long as the process instead, so their connections
persist (``CONN_MAX_AGE``), checked before each use as Django checks them between
requests. Under a synchronous caller such as the test client, asgiref still runs the
function on the caller's own thread, as for any thread-sensitive call.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from asgiref.sync import SyncToAsync, ThreadSensitiveContext, sync_to_async
from django.db import close_old_connections, connection, connections

P = ParamSpec("P")
R = TypeVar("R")

#: Threads, hence database connections, per api process for the invoke path.
THREADS = 4

_contexts = [ThreadSensitiveContext() for _ in range(THREADS)]
_turns = itertools.count()


def on_database_thread(function: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        if not connection.in_atomic_block:  # a caller's transaction (a test's) is not ours to end
            close_old_connections()
        return function(*args, **kwargs)

    run = sync_to_async(checked)

    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        if SyncToAsync.thread_sensitive_context.get(None) not in _contexts:
            SyncToAsync.thread_sensitive_context.set(_contexts[next(_turns) % THREADS])
        return await run(*args, **kwargs)

    return call


async def close_connections() -> None:
    """Close the database connections of the long-lived threads, each on its own thread (a
    connection belongs to the thread that opened it): before a test database is dropped."""
    loop = asyncio.get_running_loop()
    for context in _contexts:
        executor = SyncToAsync.context_to_thread_executor.get(context)
        if executor is not None:  # the thread has run something
            await loop.run_in_executor(executor, connections.close_all)
