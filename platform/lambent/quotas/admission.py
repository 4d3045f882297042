"""Admission: the counters that hold concurrency limits across every api and worker process.

Each running execution holds a *slot*: a member of a Redis sorted set, a random token
scored with the time its lease runs out. One Lua script drops the expired members of a
set, counts the rest and adds the new token only while they are fewer than the limit, so
two processes can never both take the last slot. Releasing removes the token. A lease
lasts the function's timeout plus ``CONCURRENCY_LEASE_MARGIN_SECONDS``: a process killed
while it holds a slot stops counting against the limit once that has passed, without
anybody cleaning up. Times are Redis's own clock (``TIME``), so hosts need not agree.

Keys, per tenant (the braces keep a tenant's keys in one Redis Cluster slot)::

    lambent:concurrency:{<account id>}:function:<function id>   a function with a reservation
    lambent:concurrency:{<account id>}:unreserved               every other function of the tenant

The api awaits ``acquire_async``/``release_async`` (``redis.asyncio``) on its event loop;
the worker calls ``acquire``/``release``. An unreachable Redis is ``ServiceUnavailable``
when acquiring; a failed release is only logged, since the lease expires anyway.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio
from django.conf import settings
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

from lambent import metrics
from lambent.errors import ServiceUnavailable, Throttled
from lambent.quotas import limits

# KEYS[1]: the pool's set; ARGV: limit, token, lease in ms. 1 when the token was added, else 0.
ACQUIRE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[2])
if redis.call('PTTL', KEYS[1]) < lease then
  redis.call('PEXPIRE', KEYS[1], lease)
end
return 1
"""

# KEYS: pools' sets. The number of unexpired slots in each.
COUNT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('ZCOUNT', key, '(' .. string.format('%d', now), '+inf')
end
return counts
"""

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pool:
    """The concurrency an invocation of one function draws from: the function's reservation,
    or the unreserved pool of its tenant (the limit less every reservation)."""

    key: str
    limit: int
    reserved: bool
    account_id: str
    function_name: str

    @property
    def reason(self) -> str:
        return limits.RESERVED_LIMIT_EXCEEDED if self.reserved else limits.ACCOUNT_LIMIT_EXCEEDED

    @property
    def never_admits(self) -> bool:
        """A reservation of 0: the function is switched off, waiting would never help."""
        return self.reserved and self.limit == 0


@dataclass(frozen=True)
class Slot:
    key: str
    token: str


def function_key(*, account_id: str, function_id: int) -> str:
    return f"lambent:concurrency:{{{account_id}}}:function:{function_id}"


def unreserved_key(*, account_id: str) -> str:
    return f"lambent:concurrency:{{{account_id}}}:unreserved"


def lease_seconds(*, timeout: int) -> float:
    """How long a slot of a function with this timeout is held at most."""
    return timeout + settings.CONCURRENCY_LEASE_MARGIN_SECONDS


def acquire(*, pool: Pool, lease_seconds: float) -> Slot:
    """A slot of ``pool`` for one execution; ``Throttled`` when the pool is full."""
    slot = Slot(key=pool.key, token=secrets.token_hex(16))
    if pool.limit > 0:
        try:
            taken = _redis().acquire(keys=[slot.key], args=[pool.limit, slot.token, _ms(lease_seconds)])
        except redis.RedisError as exc:
            raise _unavailable(exc) from exc
        if taken:
            return slot
    raise _throttled(pool)


def release(slot: Slot) -> None:
    try:
        _redis().client.zrem(slot.key, slot.token)
    except redis.RedisError as exc:
        logger.warning("a concurrency slot of %s was not released (its lease will expire): %s", slot.key, exc)


async def acquire_async(*, pool: Pool, lease_seconds: float) -> Slot:
    """``acquire`` on the running event loop."""
    slot = Slot(key=pool.key, token=secrets.token_hex(16))
    if pool.limit > 0:
        try:
            taken = await _async_redis().acquire(keys=[slot.key], args=[pool.limit, slot.token, _ms(lease_seconds)])
        except redis.RedisError as exc:
            raise _unavailable(exc) from exc
        if taken:
            return slot
    raise _throttled(pool)


async def release_async(slot: Slot) -> None:
    """``release`` on the running event loop; shielded, so a cancelled request still gives its slot back."""
    try:
        await asyncio.shield(_async_redis().client.zrem(slot.key, slot.token))
    except redis.RedisError as exc:
        logger.warning("a concurrency slot of %s was not released (its lease will expire): %s", slot.key, exc)


def in_use(*, keys: Sequence[str]) -> list[int]:
    """The slots held now in each of ``keys`` (expired leases not counted)."""
    if not keys:
        return []
    try:
        counts = _redis().count(keys=list(keys))
    except redis.RedisError as exc:
        raise _unavailable(exc) from exc
    return [int(count) for count in counts]


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _throttled(pool: Pool) -> Throttled:
    metrics.THROTTLES.labels(pool.account_id, pool.function_name, pool.reason).inc()
    if pool.reserved:
        message = (f"Rate exceeded: function {pool.function_name} may run {pool.limit} execution(s) at once "
                   "(its reserved concurrency), and they are all in use.")
    else:
        message = (f"Rate exceeded: the account's unreserved concurrency ({pool.limit}) is all in use; "
                   "try again shortly.")
    return Throttled(message, reason=pool.reason, retry_after=limits.RETRY_AFTER_SECONDS)


def _unavailable(exc: Exception) -> ServiceUnavailable:
    logger.warning("the concurrency counters (Redis) did not answer: %s", exc)  # a socket path, maybe: not answered
    return ServiceUnavailable("The concurrency counters (Redis) did not answer. Try again.")


@dataclass(frozen=True)
class _Redis:
    """A client with the scripts registered on it (their sha1 computed once)."""

    client: Any
    acquire: Any
    count: Any


def _connect(client_class: Any, retry_class: Any) -> _Redis:
    # One quick retry for a pooled connection a Redis restart broke; redis-py's default
    # (ten, with backoff) would hold an invocation for many seconds before its 503.
    timeout = settings.REDIS_SOCKET_TIMEOUT
    retry = retry_class(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))
    client = client_class.from_url(settings.REDIS_URL, retry=retry, socket_timeout=timeout,
                                   socket_connect_timeout=timeout)
    return _Redis(client=client, acquire=client.register_script(ACQUIRE), count=client.register_script(COUNT))


_sync: dict[str, _Redis] = {}
_per_loop: dict[asyncio.AbstractEventLoop, dict[str, _Redis]] = {}


def _redis() -> _Redis:
    """This process's client of ``REDIS_URL`` (redis-py starts its pool afresh after a fork)."""
    found = _sync.get(settings.REDIS_URL)
    if found is None:
        found = _sync[settings.REDIS_URL] = _connect(redis.Redis, Retry)
    return found


def _async_redis() -> _Redis:
    """A client of the running event loop: asyncio connections cannot move between loops. The api
    runs one loop for ever; callers that make a loop per call (tests) leave closed ones, dropped here."""
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
