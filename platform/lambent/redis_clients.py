"""This process's clients of ``REDIS_URL``: one synchronous, one per asyncio event loop.

Every command fails within ``REDIS_SOCKET_TIMEOUT`` seconds when Redis does not answer (a
paused, partitioned or overloaded server), so nothing waits on it for longer; a pooled
connection that a Redis restart broke is retried once, at once, since redis-py's default
(ten retries, with backoff) would hold a caller for many seconds before it fails.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis
import redis.asyncio
from django.conf import settings
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

_sync: dict[str, redis.Redis] = {}
_per_loop: dict[asyncio.AbstractEventLoop, dict[str, redis.asyncio.Redis]] = {}


def _connect(client_class: Any, retry_class: Any) -> Any:
    timeout = settings.REDIS_SOCKET_TIMEOUT
    retry = retry_class(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))
    return client_class.from_url(settings.REDIS_URL, retry=retry, socket_timeout=timeout,
                                 socket_connect_timeout=timeout)


def sync_client() -> redis.Redis:
    """The synchronous client (redis-py starts its pool afresh after a fork)."""
    found = _sync.get(settings.REDIS_URL)
    if found is None:
        found = _sync[settings.REDIS_URL] = _connect(redis.Redis, Retry)
    return found


def async_client() -> redis.asyncio.Redis:
    """The client of the running event loop: asyncio connections cannot move between loops. The
    api runs one loop for ever; callers that make a loop per call (tests) leave closed ones,
    dropped here."""
    loop = asyncio.get_running_loop()
    clients = _per_loop.get(loop)
    if clients is None:
        for closed in [other for other in _per_loop if other.is_closed()]:
            del _per_loop[closed]
        clients = _per_loop[loop] = {}
    found = clients.get(settings.REDIS_URL)
    if found is None:
        found = clients[settings.REDIS_URL] = _connect(redis.asyncio.Redis, AsyncRetry)
    return found
