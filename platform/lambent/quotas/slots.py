"""Concurrency slots an api process keeps between its invocations, so that a warm invocation in
steady state makes no round trip to Redis.

A slot taken from Redis (``admission.acquire_async``) is kept by the process when its
invocation ends, and the next invocation of the same pool takes it again locally: the limit
stays exact across every process, because a kept slot still counts in Redis. A process keeps
at most as many slots of a pool as it ran at once, never more than the pool's limit, and
gives back those unused for ``IDLE_RETURN_SECONDS``, so that an idle process never holds
what another one needs for more than a moment (``GetAccountSettings`` counts a kept slot as
in use meanwhile). Kept slots lease ``LEASE_SECONDS`` in Redis and are renewed every third of
that while the process lives: a killed process's slots expire by themselves, as any slot's
do. A slot whose renewal is overdue (the event loop that renewed it stopped, as a test's
loop does) is never taken again: it is given back and a fresh one acquired.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import redis

from lambent.quotas import admission
from lambent.quotas.admission import Pool, Slot

logger = logging.getLogger(__name__)

#: How long a kept slot's lease lasts in Redis; it is renewed every third of it.
LEASE_SECONDS = 30.0
#: A slot unused this long is given back to Redis.
IDLE_RETURN_SECONDS = 1.0

@dataclass(eq=False)
class Kept:
    """A slot this process holds, busy with an invocation or waiting for the next one."""

    slot: Slot
    renewed_at: float = field(default_factory=time.monotonic)
    idle_since: float = 0.0

    @property
    def fresh(self) -> bool:
        """Whether its lease in Redis surely still runs (a renewal is due every third of it)."""
        return time.monotonic() - self.renewed_at < LEASE_SECONDS * 2 / 3


class SlotKeeper:
    """The slots of one api process, by pool; used from its event loop."""

    def __init__(self) -> None:
        self._idle: dict[str, list[Kept]] = {}
        self._busy: dict[str, int] = {}
        self._kept: set[Kept] = set()
        self._maintainer: asyncio.Task[None] | None = None

    async def take(self, *, pool: Pool) -> Kept:
        """A slot of ``pool``: a kept one when one waits, else one from Redis (``Throttled`` when full)."""
        idle = self._idle.get(pool.key)
        while idle and self._busy.get(pool.key, 0) < pool.limit:
            kept = idle.pop()
            if kept.fresh:
                self._busy[pool.key] = self._busy.get(pool.key, 0) + 1
                return kept
            self._forget(kept)
        slot = await admission.acquire_async(pool=pool, lease_seconds=LEASE_SECONDS)
        kept = Kept(slot=slot)
        self._kept.add(kept)
        self._busy[pool.key] = self._busy.get(pool.key, 0) + 1
        self._maintain()
        return kept

    def give_back(self, kept: Kept) -> None:
        """The invocation ended: the slot waits for the next one."""
        key = kept.slot.key
        self._busy[key] -= 1
        kept.idle_since = time.monotonic()
        self._idle.setdefault(key, []).append(kept)

    def held(self) -> int:
        return len(self._kept)

    async def give_back_idle(self) -> None:
        """Give back every slot no invocation uses now: at the process's end."""
        for key, idle in list(self._idle.items()):
            del self._idle[key]
            for kept in idle:
                self._kept.discard(kept)
                await admission.release_async(kept.slot)

    def _forget(self, kept: Kept) -> None:
        self._kept.discard(kept)
        admission.release(kept.slot)  # a failed release is retried by admission's own thread

    def _maintain(self) -> None:
        if self._maintainer is None or self._maintainer.done() or self._maintainer.get_loop().is_closed():
            self._maintainer = asyncio.get_running_loop().create_task(self._renew_and_return())

    async def _renew_and_return(self) -> None:
        """Until no slot is kept: renew the leases due, give back the slots idle too long."""
        while self._kept:
            await asyncio.sleep(min(LEASE_SECONDS / 3, IDLE_RETURN_SECONDS))
            await self._return_idle()
            await self._renew()

    async def _return_idle(self) -> None:
        cutoff = time.monotonic() - IDLE_RETURN_SECONDS
        for key, idle in list(self._idle.items()):
            unused = [kept for kept in idle if kept.idle_since < cutoff]
            idle[:] = [kept for kept in idle if kept.idle_since >= cutoff]
            for kept in unused:
                self._kept.discard(kept)
                await admission.release_async(kept.slot)
            if not idle:
                del self._idle[key]

    async def _renew(self) -> None:
        due = [kept for kept in self._kept if time.monotonic() - kept.renewed_at >= LEASE_SECONDS / 3]
        if not due:
            return
        try:
            await admission.renew_async([kept.slot for kept in due], lease_seconds=LEASE_SECONDS)
        except redis.RedisError as exc:  # the next round tries again; a stale slot is never reused
            logger.warning("kept concurrency slots not renewed, Redis did not answer: %s", exc)
            return
        now = time.monotonic()
        for kept in due:
            kept.renewed_at = now


#: This process's keeper (the api's).
keeper = SlotKeeper()
