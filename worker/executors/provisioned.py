"""Provisioned concurrency in a pooled backend: sandboxes initialized ahead of demand, kept at a count.

``Provisioner`` holds a pool per ``FunctionSpec.key``: the count asked for and the sandboxes
that exist, idle (initialized, waiting), busy (serving an invocation) or starting. A loop
keeps each pool at its count: it drops idle sandboxes that died (the agent of a provisioned
sandbox ends the connection when its runtime exits, see ``runtimes/agent/supervisor.py``)
and starts what is missing, at most ``STARTS_AT_ONCE`` at a time across pools. Busy ones an
invocation left in doubt are reported lost by the executor, and replaced the same way.

A function whose init fails is not retried: its pool records the failure and stays as it
is until it is no longer desired (the control plane then marks its config failed, and asks
again once the config is changed). A sandbox that would not start for the platform's own
reasons is tried again after ``RETRY_S``.

Sandboxes no longer desired (the pool dropped, or its count lowered) are handed back to
the executor's warm pool, where the keep-alive reaps them like any other. Idle provisioned
sandboxes never expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from worker.executors.base import (
    FunctionInitError,
    FunctionSpec,
    Provision,
    Provisioned,
    SandboxCount,
    failure_reason,
)
from worker.executors.warm import WarmSandbox

logger = logging.getLogger(__name__)

#: Provisioned sandboxes started at once, across all pools: a large count does not swamp the node.
STARTS_AT_ONCE = 4
#: Seconds before a sandbox that would not start (a platform error) is tried again.
RETRY_S = 2.0
#: Seconds between looks for dead idle sandboxes (reading two attributes each: cheap).
CHECK_INTERVAL_S = 0.25

Start = Callable[[FunctionSpec], Awaitable[WarmSandbox]]
Release = Callable[[WarmSandbox], None]
Destroy = Callable[[WarmSandbox, str], Awaitable[None]]


@dataclass(eq=False)
class _Pool:
    spec: FunctionSpec
    target: int
    idle: list[WarmSandbox] = field(default_factory=list)
    busy: set[WarmSandbox] = field(default_factory=set)
    starting: int = 0
    failure: str | None = None
    retry_at: float = 0.0

    @property
    def ready(self) -> int:
        """Initialized and alive (a dead idle one counts no more, even before it is dropped)."""
        return sum(1 for sandbox in self.idle if sandbox.alive) + len(self.busy)

    @property
    def settled(self) -> bool:
        return self.failure is not None or self.ready >= self.target

    def missing(self) -> int:
        if self.failure is not None or time.monotonic() < self.retry_at:
            return 0
        return max(0, self.target - self.ready - self.starting)


class Provisioner:
    """The provisioned pools of one executor. ``start`` makes an initialized provisioned sandbox,
    ``release`` takes one into the warm pool, ``destroy`` ends one (with the reason to count)."""

    def __init__(self, *, start: Start, release: Release, destroy: Destroy) -> None:
        self._start = start
        self._release = release
        self._destroy = destroy
        self._pools: dict[str, _Pool] = {}
        self._owner: dict[WarmSandbox, _Pool] = {}  # busy sandboxes and the pool they came from
        self._slots = asyncio.Semaphore(STARTS_AT_ONCE)
        self._wakeup = asyncio.Event()
        self._progress = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._keeper: asyncio.Task[None] | None = None

    def replace(self, desired: Mapping[str, Provision], *, problems: Mapping[str, str]) -> None:
        """Make ``desired`` the pools; ``problems`` are failures known before any start (no interpreter)."""
        for key in [key for key in self._pools if key not in desired]:
            pool = self._pools.pop(key)
            self._hand_back(pool.idle)
            pool.idle = []
        for key, wanted in desired.items():
            pool = self._pools.setdefault(key, _Pool(spec=wanted.spec, target=wanted.count))
            pool.target = wanted.count
            pool.failure = pool.failure or problems.get(key)
            self._cull(pool)
            excess = max(0, pool.ready - pool.target)
            self._hand_back(pool.idle[:excess])
            del pool.idle[:excess]
        self._ensure_keeper()
        self._wakeup.set()

    def status(self) -> dict[str, Provisioned]:
        return {key: Provisioned(ready=pool.ready, failure=pool.failure) for key, pool in self._pools.items()}

    async def settle(self, *, timeout: float) -> None:
        """Wait until every pool is ready or failed, or ``timeout`` seconds passed."""
        deadline = time.monotonic() + timeout
        while True:
            self._progress.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0 or all(pool.settled for pool in self._pools.values()):
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), remaining)

    def take(self, key: str) -> WarmSandbox | None:
        """An idle provisioned sandbox of ``key``, now busy; None if there is none."""
        pool = self._pools.get(key)
        while pool is not None and pool.idle:
            sandbox = pool.idle.pop()
            if sandbox.alive:
                pool.busy.add(sandbox)
                self._owner[sandbox] = pool
                return sandbox
            self._spawn(self._destroy(sandbox, "dead"))
            self._wakeup.set()
        return None

    def give_back(self, sandbox: WarmSandbox) -> bool:
        """Take ``sandbox`` back after an invocation: True if its pool still wants it."""
        pool = self._owner.pop(sandbox, None)
        if pool is None:
            return False
        pool.busy.discard(sandbox)
        if self._pools.get(sandbox.spec.key) is pool and pool.ready < pool.target:
            pool.idle.append(sandbox)
            return True
        return False

    def lost(self, sandbox: WarmSandbox) -> None:
        """``sandbox`` is being destroyed after an invocation: its pool starts another."""
        pool = self._owner.pop(sandbox, None)
        if pool is not None:
            pool.busy.discard(sandbox)
            self._wakeup.set()

    def owns(self, sandbox: WarmSandbox) -> bool:
        """Whether ``sandbox`` is a provisioned one serving an invocation."""
        return sandbox in self._owner

    def census(self) -> list[SandboxCount]:
        counts = []
        for pool in list(self._pools.values()):
            runtime = pool.spec.runtime
            counts += [SandboxCount("provisioned", "idle", runtime, len(pool.idle)),
                       SandboxCount("provisioned", "busy", runtime, len(pool.busy)),
                       SandboxCount("provisioned", "starting", runtime, pool.starting)]
        return counts

    async def close(self) -> list[WarmSandbox]:
        """Stop, once the starts under way finished (handed back: they are no longer desired); the idle
        sandboxes, for the caller to destroy with the busy ones it holds."""
        if self._keeper is not None:
            self._keeper.cancel()
        idle = [sandbox for pool in self._pools.values() for sandbox in pool.idle]
        self._pools.clear()
        self._owner.clear()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        return idle

    def _hand_back(self, sandboxes: list[WarmSandbox]) -> None:
        for sandbox in sandboxes:
            self._release(sandbox)

    def _ensure_keeper(self) -> None:
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.get_running_loop().create_task(self._keep_forever())

    async def _keep_forever(self) -> None:
        while True:
            self._wakeup.clear()
            self.keep()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), CHECK_INTERVAL_S)

    def keep(self) -> None:
        """One round: drop the dead idle sandboxes, start what is missing."""
        for pool in list(self._pools.values()):
            self._cull(pool)
            for _ in range(pool.missing()):
                pool.starting += 1
                self._spawn(self._start_one(pool))

    def _cull(self, pool: _Pool) -> None:
        """Drop (and destroy) the idle sandboxes of ``pool`` that died."""
        for sandbox in [sandbox for sandbox in pool.idle if not sandbox.alive]:
            pool.idle.remove(sandbox)
            self._spawn(self._destroy(sandbox, "dead"))

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start_one(self, pool: _Pool) -> None:
        try:
            async with self._slots:
                sandbox = await self._start(pool.spec)
        except FunctionInitError as exc:
            pool.failure = failure_reason(exc.result)
            logger.warning("provisioned concurrency of %s failed: %s", pool.spec.key, pool.failure)
        except Exception as exc:  # a platform error, or missing code: try again later
            pool.retry_at = time.monotonic() + RETRY_S
            logger.warning("a provisioned sandbox of %s would not start: %s", pool.spec.key, exc)
        else:
            self._adopt(pool, sandbox)
        finally:
            pool.starting -= 1
            self._progress.set()

    def _adopt(self, pool: _Pool, sandbox: WarmSandbox) -> None:
        if self._pools.get(pool.spec.key) is pool and pool.ready < pool.target:
            pool.idle.append(sandbox)
        else:
            self._release(sandbox)
