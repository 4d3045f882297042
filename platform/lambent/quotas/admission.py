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
when acquiring. A release that fails (Redis paused, partitioned, restarting), and an acquire
that fails (Redis may run it when it wakes), are given back every ``RELEASE_RETRY_SECONDS`` by
a thread of the process until Redis removed the slot or its lease has run out anyway: slots
held while Redis hung are free as soon as it answers again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from django.conf import settings

from lambent import metrics, redis_clients
from lambent.errors import ServiceUnavailable, Throttled
from lambent.quotas import limits

# KEYS[1]: the pool's set; ARGV: limit, token, lease in ms. 1 when the token was added (or was
# there already: it is leased afresh), else 0.
ACQUIRE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
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

# KEYS: the pools' sets; ARGV: the lease in ms, then one token per key. Each token still in its
# set (not expired, not released) gets a lease from now, on Redis's clock.
RENEW = """
local clock = redis.call('TIME')
local lease = tonumber(ARGV[1])
local expiry = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) + lease
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', expiry, ARGV[i + 1])
  if redis.call('PTTL', key) < lease then
    redis.call('PEXPIRE', key, lease)
  end
end
return #KEYS
"""

logger = logging.getLogger(__name__)

#: How often a release that failed is tried again.
RELEASE_RETRY_SECONDS = 0.5


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
    #: ``time.monotonic()`` by which the lease has run out in any case.
    held_until: float = field(default=0.0, compare=False)

    def serialized(self) -> str:
        """What another process needs to release it (``parse``)."""
        return f"{self.key} {self.token}"

    @classmethod
    def parse(cls, serialized: str) -> Slot:
        key, _, token = serialized.partition(" ")
        return cls(key=key, token=token)


def function_key(*, account_id: str, function_id: int) -> str:
    return f"lambent:concurrency:{{{account_id}}}:function:{function_id}"


def unreserved_key(*, account_id: str) -> str:
    return f"lambent:concurrency:{{{account_id}}}:unreserved"


def lease_seconds(*, timeout: int) -> float:
    """How long a slot of a function with this timeout is held at most."""
    return timeout + settings.CONCURRENCY_LEASE_MARGIN_SECONDS


def acquire(*, pool: Pool, lease_seconds: float, token: str | None = None) -> Slot:
    """A slot of ``pool`` for one execution; ``Throttled`` when the pool is full. A ``token`` of the
    caller's own (an asynchronous attempt's: ``attempt_token``) names the slot; held already, it is
    leased afresh rather than counted twice."""
    slot = _new_slot(pool, lease_seconds, token)
    if pool.limit > 0:
        try:
            taken = _redis().acquire(keys=[slot.key], args=[pool.limit, slot.token, _ms(lease_seconds)])
        except redis.RedisError as exc:
            if token is None:  # Redis may run it yet, the request still in its socket
                _unreleased.add(slot, exc)
            # (a named slot is its attempt's: the next try of that attempt takes it over, and a release
            # retried meanwhile could take it from under that try)
            raise _unavailable(exc) from exc
        if taken:
            return slot
    raise _throttled(pool)


def attempt_token(*, request_id: str, fence: int) -> str:
    """The token of the slot of an asynchronous invocation's attempt under ``fence``: the same for
    every worker that tries to lease that attempt, so that the slot of a worker killed after it
    took one, before its lease was written, is the next one's rather than held till it expires."""
    return f"{request_id}.{fence}"


def _new_slot(pool: Pool, lease_seconds: float, token: str | None = None) -> Slot:
    return Slot(key=pool.key, token=token or secrets.token_hex(16), held_until=time.monotonic() + lease_seconds)


def release(slot: Slot) -> None:
    try:
        _redis().client.zrem(slot.key, slot.token)
    except redis.RedisError as exc:
        _unreleased.add(slot, exc)


async def acquire_async(*, pool: Pool, lease_seconds: float) -> Slot:
    """``acquire`` on the running event loop."""
    slot = _new_slot(pool, lease_seconds)
    if pool.limit > 0:
        try:
            taken = await _async_redis().acquire(keys=[slot.key], args=[pool.limit, slot.token, _ms(lease_seconds)])
        except redis.RedisError as exc:
            _unreleased.add(slot, exc)  # Redis may run it yet, the request still in its socket
            raise _unavailable(exc) from exc
        if taken:
            return slot
    raise _throttled(pool)


async def release_async(slot: Slot) -> None:
    """``release`` on the running event loop; shielded, so a cancelled request still gives its slot back."""
    try:
        await asyncio.shield(_async_redis().client.zrem(slot.key, slot.token))
    except redis.RedisError as exc:
        _unreleased.add(slot, exc)


async def renew_async(slots: Sequence[Slot], *, lease_seconds: float) -> None:
    """Lease ``slots`` for ``lease_seconds`` from now, those still held (redis errors are raised)."""
    await _async_redis().renew(keys=[slot.key for slot in slots],
                               args=[_ms(lease_seconds), *(slot.token for slot in slots)])


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
    renew: Any


_scripted: weakref.WeakKeyDictionary[Any, _Redis] = weakref.WeakKeyDictionary()


def _with_scripts(client: Any) -> _Redis:
    found = _scripted.get(client)
    if found is None:
        found = _scripted[client] = _Redis(client=client, acquire=client.register_script(ACQUIRE),
                                           count=client.register_script(COUNT), renew=client.register_script(RENEW))
    return found


def _redis() -> _Redis:
    return _with_scripts(redis_clients.sync_client())


def _async_redis() -> _Redis:
    return _with_scripts(redis_clients.async_client())


class _Unreleased:
    """Slots that may be held with nobody to give them back: a release that failed, and an acquire
    that failed, which Redis may still have run or may yet run (the request sent before the
    connection hung, delivered when it wakes). A thread of this process removes each until Redis
    says it removed it, or until its lease has run out anyway."""

    def __init__(self) -> None:
        self._slots: list[Slot] = []
        self._lock = threading.Lock()
        self._thread_pid = 0

    def add(self, slot: Slot, exc: Exception) -> None:
        logger.warning("a concurrency slot of %s may be held, Redis did not answer (%s): releasing it once it does",
                       slot.key, exc)
        with self._lock:
            self._slots.append(slot)
            if self._thread_pid != os.getpid():  # none yet, or the one of the parent this process forked from
                self._thread_pid = os.getpid()
                threading.Thread(target=self._retry_forever, name="admission-release", daemon=True).start()

    def pending(self) -> int:
        with self._lock:
            return len(self._slots)

    def _retry_forever(self) -> None:
        while True:
            time.sleep(RELEASE_RETRY_SECONDS)
            with self._lock:
                slots, self._slots = self._slots, []
            slots = [slot for slot in slots if slot.held_until > time.monotonic()]
            still = self._release_all(slots) if slots else []
            with self._lock:
                self._slots.extend(still)

    @staticmethod
    def _release_all(slots: list[Slot]) -> list[Slot]:
        """Those of ``slots`` not removed (all of them while Redis does not answer)."""
        pipeline = _redis().client.pipeline(transaction=False)
        for slot in slots:
            pipeline.zrem(slot.key, slot.token)
        try:
            removed = pipeline.execute()
        except Exception:  # noqa: BLE001 - Redis away or the client torn down: the thread must live on
            return slots
        return [slot for slot, count in zip(slots, removed, strict=True) if not count]
_unreleased = _Unreleased()
