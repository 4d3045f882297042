"""The sandboxes one process holds, and invocations sent straight to them.

A ``Borrower`` runs ``Executor.invoke`` over leases (see ``worker.executors.base``): an
invocation takes a sandbox of its version that this process holds and is not using, or borrows
one from the executor (a request to it, and a cold start if it has none idle), then talks to the
sandbox's agent itself. In steady state a warm invocation is one exchange with the agent and
nothing else: no request to the executor.

A sandbox is kept after an invocation that left it sound (a success, or an error the runtime
caught); anything else (a crash, a timeout, out of memory, an agent that went away, a caller that
gave up, which hangs up and so has the agent kill what runs) drops it, and the executor replaces
it. A lease the agent refuses (it expired or was revoked: nothing ran) is dropped and the
invocation tried on another, ``LEASE_ATTEMPTS`` times in all.

In the background, while it holds any, the borrower renews its leases every third of their term
in one request, and gives back those it has not used for ``hold_s``. One ``Borrower`` serves a
process; a connection belongs to the event loop that opened it, so a lease taken up on another loop
(a test client runs a loop per request) is connected anew there, and the keeping runs on the loop
of the latest invocation. A worker's loop runs only during its tasks: between them its leases are
neither renewed nor given back, and expire; the executor takes them back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from dataclasses import dataclass

from worker.executors.base import (
    Executor,
    ExecutorError,
    FunctionHandledError,
    FunctionSpec,
    InvokeRequest,
    InvokeResult,
    Lease,
    LeaseLost,
    SandboxLink,
)

logger = logging.getLogger(__name__)

LEASE_ATTEMPTS = 3
#: An idle connection older than this is let read what the agent sent meanwhile before it is used:
#: a process whose event loop did not run (a worker between tasks) has not seen a revocation yet.
SETTLE_AFTER_S = 0.05


@dataclass
class _Held:
    lease: Lease
    link: SandboxLink
    loop: asyncio.AbstractEventLoop  # the link's
    last_used: float  # time.monotonic()


class Borrower:
    def __init__(self, executor: Executor, *, hold_s: float) -> None:
        self._executor = executor
        self._hold_s = hold_s
        self._idle: dict[str, list[_Held]] = defaultdict(list)
        self._held: dict[str, _Held] = {}  # every lease held, idle or in use, by id
        self._keeper: asyncio.Task[None] | None = None
        self._endings: set[asyncio.Task[None]] = set()

    def held_count(self) -> int:
        return len(self._held)

    async def invoke(self, spec: FunctionSpec, request: InvokeRequest) -> InvokeResult:
        for attempt in range(LEASE_ATTEMPTS):
            held = await self._take(spec) or await self._borrow(spec)
            try:
                result = await held.link.invoke(request)
            except LeaseLost:
                self._drop(held, give_back=False)  # the executor has it back already
                if attempt + 1 == LEASE_ATTEMPTS:
                    raise
                continue
            except FunctionHandledError:
                self._keep(held)
                raise
            except BaseException:
                self._drop(held, give_back=True)
                raise
            self._keep(held)
            return result
        raise AssertionError("unreachable")

    async def give_back_idle(self, key: str) -> None:
        """Give back the sandboxes of ``key`` held and not in use, and wait until the executor has them."""
        for held in self._idle.pop(key, []):
            self._drop(held, give_back=True, reusable=True)
        await asyncio.gather(*self._endings, return_exceptions=True)

    async def close(self) -> None:
        """Give back every lease held."""
        if self._keeper is not None:
            self._keeper.cancel()
        for held in list(self._held.values()):
            self._drop(held, give_back=True, reusable=True)
        await asyncio.gather(*self._endings, return_exceptions=True)

    async def _take(self, spec: FunctionSpec) -> _Held | None:
        pool = self._idle.get(spec.key)
        loop = asyncio.get_running_loop()
        while pool:
            held = pool.pop()
            if held.loop is not loop:
                if not await self._reconnect(held, spec):
                    continue
            elif time.monotonic() - held.last_used > SETTLE_AFTER_S:
                for _ in range(2):  # one turn for the selector to see the socket, one for the transport to read it
                    await asyncio.sleep(0)
            if held.link.usable:
                self._ensure_keeper(held.lease)
                return held
            self._drop(held, give_back=False)
        return None

    async def _reconnect(self, held: _Held, spec: FunctionSpec) -> bool:
        """Connect ``held`` anew on this loop (its old connection's loop may be gone: left to be collected)."""
        try:
            held.link = await self._executor.connect(held.lease, spec)
        except LeaseLost:
            self._held.pop(held.lease.lease_id, None)
            return False
        held.loop = asyncio.get_running_loop()
        return True

    async def _borrow(self, spec: FunctionSpec) -> _Held:
        lease = await self._executor.borrow(spec)
        try:
            link = await self._executor.connect(lease, spec)
        except BaseException:
            self._end(lease.lease_id, reusable=False)
            raise
        held = _Held(lease=lease, link=link, loop=asyncio.get_running_loop(), last_used=time.monotonic())
        self._held[lease.lease_id] = held
        self._ensure_keeper(lease)
        return held

    def _ensure_keeper(self, lease: Lease) -> None:
        loop = asyncio.get_running_loop()
        if self._keeper is None or self._keeper.done() or self._keeper.get_loop() is not loop:
            self._keeper = loop.create_task(self._keep_leases(lease.expires_in_s / 3))

    def _keep(self, held: _Held) -> None:
        held.last_used = time.monotonic()
        if held.link.usable and held.lease.lease_id in self._held:
            self._idle[held.lease.spec_key].append(held)
        else:
            self._drop(held, give_back=False)

    def _drop(self, held: _Held, *, give_back: bool, reusable: bool = False) -> None:
        if held.loop is asyncio.get_running_loop():
            held.link.close()
        if self._held.pop(held.lease.lease_id, None) is not None and give_back:
            self._end(held.lease.lease_id, reusable=reusable)

    def _end(self, lease_id: str, *, reusable: bool) -> None:
        """Give the lease back in the background: a caller's answer never waits on the executor."""
        task = asyncio.get_running_loop().create_task(self._give_back(lease_id, reusable=reusable))
        self._endings.add(task)
        task.add_done_callback(self._endings.discard)

    async def _give_back(self, lease_id: str, *, reusable: bool) -> None:
        try:
            await self._executor.give_back(lease_id, reusable=reusable)
        except ExecutorError as exc:  # the lease expires on its own
            logger.info("a lease could not be given back: %s", exc)

    async def _keep_leases(self, renew_every_s: float) -> None:
        tick = max(0.05, min(self._hold_s, renew_every_s) / 2)
        renewed_at = time.monotonic()
        while self._held:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for key, pool in list(self._idle.items()):
                for held in [held for held in pool if now - held.last_used >= self._hold_s]:
                    pool.remove(held)
                    self._drop(held, give_back=True, reusable=True)
                if not pool:
                    del self._idle[key]
            if self._held and now - renewed_at >= renew_every_s:
                renewed_at = now
                await self._renew()

    async def _renew(self) -> None:
        try:
            lost = await self._executor.renew(list(self._held))
        except ExecutorError as exc:
            logger.warning("leases could not be renewed: %s", exc)
            return
        for lease_id in lost:
            held = self._held.get(lease_id)
            if held is not None:
                with contextlib.suppress(ValueError):
                    self._idle[held.lease.spec_key].remove(held)
                self._drop(held, give_back=False)
