"""What every backend whose sandboxes are pooled shares: warm pools, leases, provisioned sandboxes, reaping.

A ``PooledExecutor`` keeps the sandboxes a backend starts (``WarmSandbox``, each driving one agent)
and decides which one serves what. Idle sandboxes wait in a pool per ``FunctionSpec.key``: an
invocation takes one, or has the backend make one when none is idle (a cold start), so concurrent
invocations of one version run in parallel sandboxes. Idle sandboxes are reaped after the
keep-alive. Provisioned sandboxes (``provision``, kept by ``Provisioner``) are started and
initialized ahead of demand and never reaped for idleness; an invocation takes one of them before
a warm one. Everything is counted in ``worker.executors.metrics``.

Sandboxes are lent the same way (``borrow``): the one taken, or started, is handed to the agent's
holder with a token (``WarmSandbox.lend``) and is busy until it is given back, its lease expires
(``lease_s`` after it was granted or last renewed; checked every quarter of it), or its runtime
ends while lent (the agent then ends the executor's connection). Whatever ends a lease, the sandbox
is revoked and idle again, or destroyed if an invocation was in flight.

A backend says how a sandbox is made (``_new_sandbox``: specializing a generic one it keeps ready,
or starting one), which runtimes it can run (``_runtime_problem``), what it holds besides
(``_generic_census``, ``_close_backend``). The local backend (``worker.executors.local``) and the
Kubernetes backend (``worker.executors.kubernetes``) are its two.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from prometheus_client import Counter as PromCounter

from worker.executors.base import (
    Endpoint,
    Executor,
    FunctionError,
    FunctionHandledError,
    FunctionSpec,
    InvokeRequest,
    InvokeResult,
    Lease,
    Provision,
    Provisioned,
    SandboxCount,
    SandboxLink,
    provision_targets,
)
from worker.executors.link import AgentLink
from worker.executors.metrics import INIT_DURATION, INVOCATIONS, LEASES, LEASES_ENDED, REAPED, STARTED
from worker.executors.provisioned import Provisioner
from worker.executors.warm import InitTimedOut, WarmSandbox

#: How long a lease lasts unless renewed.
LEASE_S = 10.0


@dataclass
class _Loan:
    sandbox: WarmSandbox
    expires_at: float  # time.monotonic()


class PooledExecutor(Executor):
    def __init__(self, *, keep_alive_s: float, lease_s: float = LEASE_S) -> None:
        self._keep_alive_s = keep_alive_s
        self._cold_starts = ColdStarts()
        self._idle: dict[str, list[WarmSandbox]] = defaultdict(list)
        self._busy: set[WarmSandbox] = set()
        self._lease_s = lease_s
        self._loans: dict[str, _Loan] = {}
        self._loan_keeper: asyncio.Task[None] | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._ending: set[asyncio.Future[None]] = set()  # destroys under way
        self._closing = False
        self._provisioner = Provisioner(start=lambda spec: self._start(spec, provisioned=True),
                                        release=self._make_warm, destroy=self._reap)

    # --- what a backend says -------------------------------------------------------------

    @abc.abstractmethod
    async def _new_sandbox(self, spec: FunctionSpec, *, prewarmed: bool, provisioned: bool, init_limit: bool,
                           lend: str | None) -> WarmSandbox:
        """A sandbox of ``spec``, initialized as ``WarmSandbox.initialize`` says."""

    @abc.abstractmethod
    def _runtime_problem(self, runtime: str) -> str | None:
        """Why this backend cannot run ``runtime`` (None: it can)."""

    def _generic_census(self) -> list[SandboxCount]:
        """The sandboxes the backend keeps besides the pooled ones (generic ones, ready to specialize)."""
        return []

    async def _close_backend(self) -> None:
        """Destroy what the backend keeps besides the pooled sandboxes; called once, at close."""

    # --- the Executor interface ----------------------------------------------------------

    async def invoke(self, spec: FunctionSpec, request: InvokeRequest) -> InvokeResult:
        sandbox = await self._take_ready(spec, INVOCATIONS)
        if sandbox is not None:
            return await self._serve(sandbox, request)
        with self._cold_starts.running():
            sandbox, report = await self._cold_start(spec)
            self._mark_busy(sandbox, "cold", INVOCATIONS)
            try:
                result = await self._serve(sandbox, request)
            except FunctionError as exc:
                exc.result = replace(exc.result, log=report + exc.result.log)
                raise
            return replace(result, log=report + result.log)

    async def _cold_start(self, spec: FunctionSpec, *, lend: str | None = None) -> tuple[WarmSandbox, str]:
        """A new sandbox of ``spec`` (lent to ``lend``, a token, from its init on), and what its first
        invocation's log starts with: after an init that ran out of its limit, it is started once more
        with init left to the first invocation, under the function's timeout, as Lambda's suppressed
        init, and the log starts with Lambda's INIT_REPORT line."""
        try:
            return await self._start(spec, lend=lend), ""
        except InitTimedOut as exc:
            report = f"INIT_REPORT Init Duration: {exc.limit_s * 1000:.2f} ms\tPhase: init\tStatus: timeout\n"
            return await self._start(spec, init_limit=False, lend=lend), report

    async def borrow(self, spec: FunctionSpec) -> Lease:
        token = secrets.token_urlsafe(24)
        sandbox, report = await self._take_ready(spec, LEASES), ""
        if sandbox is None:
            with self._cold_starts.running():
                sandbox, report = await self._cold_start(spec, lend=token)
            self._mark_busy(sandbox, "cold", LEASES)
        init_ms, sandbox.link.pending_init_ms = sandbox.link.pending_init_ms, None  # the holder's link reports it
        if not sandbox.lent:
            try:
                await sandbox.lend(token)
            except BaseException:
                await self._discard(sandbox)
                raise
        lease_id = secrets.token_hex(12)
        self._loans[lease_id] = _Loan(sandbox=sandbox, expires_at=time.monotonic() + self._lease_s)
        sandbox.on_lent_end(lambda: self._ended_while_lent(lease_id))
        self._ensure_loan_keeper()
        if init_ms is not None:
            INIT_DURATION.labels("on_demand").observe(init_ms / 1000)
        return Lease(lease_id=lease_id, spec_key=spec.key, expires_in_s=self._lease_s,
                     endpoint=Endpoint(address=sandbox.endpoint, token=token, meter=sandbox.handle.meter_directory),
                     init_duration_ms=init_ms, log_prefix=report)

    async def give_back(self, lease_id: str, *, reusable: bool = True) -> None:
        loan = self._loans.pop(lease_id, None)
        if loan is not None:
            LEASES_ENDED.labels("given_back").inc()
            await self._take_back(loan.sandbox, reusable=reusable)

    async def renew(self, lease_ids: Sequence[str]) -> list[str]:
        expires_at, lost = time.monotonic() + self._lease_s, []
        for lease_id in lease_ids:
            loan = self._loans.get(lease_id)
            if loan is None:
                lost.append(lease_id)
            else:
                loan.expires_at = expires_at
        return lost

    async def connect(self, lease: Lease, spec: FunctionSpec) -> SandboxLink:
        return await AgentLink.open(lease, spec)

    def lent_count(self) -> int:
        return len(self._loans)

    async def _take_back(self, sandbox: WarmSandbox, *, reusable: bool) -> None:
        if reusable and sandbox.alive and await sandbox.revoke():
            sandbox.last_used = time.monotonic()
            self._release(sandbox)
        else:
            await self._discard(sandbox)

    def _ended_while_lent(self, lease_id: str) -> None:
        """The agent ended the connection of a lent sandbox: its runtime ended (a timeout, a crash,
        out of memory, a holder that hung up mid-invocation)."""
        loan = self._loans.pop(lease_id, None)
        if loan is not None and not self._closing:
            LEASES_ENDED.labels("ended").inc()
            ending = asyncio.ensure_future(self._discard(loan.sandbox, "dead"))
            self._ending.add(ending)
            ending.add_done_callback(self._ending.discard)

    def _ensure_loan_keeper(self) -> None:
        if not self._closing and (self._loan_keeper is None or self._loan_keeper.done()):
            self._loan_keeper = asyncio.get_running_loop().create_task(self._expire_loans_forever())

    async def _expire_loans_forever(self) -> None:
        while self._loans:
            await asyncio.sleep(self._lease_s / 4)
            await self.expire_loans()

    async def expire_loans(self) -> int:
        """Take back the sandboxes whose lease was not renewed in time; how many."""
        now = time.monotonic()
        expired = [lease_id for lease_id, loan in self._loans.items() if loan.expires_at <= now]
        for lease_id in expired:
            loan = self._loans.pop(lease_id, None)
            if loan is not None:
                LEASES_ENDED.labels("expired").inc()
                await self._take_back(loan.sandbox, reusable=True)
        return len(expired)

    async def _serve(self, sandbox: WarmSandbox, request: InvokeRequest) -> InvokeResult:
        try:
            result = await sandbox.invoke(request)
        except FunctionError as exc:
            _observe_init(exc.result)
            if not isinstance(exc, FunctionHandledError):  # the runtime is in doubt
                await self._discard(sandbox)
                raise
            self._release(sandbox)  # the runtime reported the error and serves on
            raise
        except BaseException:
            await self._discard(sandbox)
            raise
        _observe_init(result)
        self._release(sandbox)
        return result

    async def prewarm(self, spec: FunctionSpec, *, count: int = 1) -> int:
        missing = count - len(self._idle[spec.key])
        started = await asyncio.gather(*(self._start(spec, prewarmed=True) for _ in range(max(0, missing))))
        self._idle[spec.key].extend(started)
        self._ensure_reaper()
        return len(self._idle[spec.key])

    async def evict(self, spec: FunctionSpec) -> int:
        idle = self._idle.pop(spec.key, [])
        await asyncio.gather(*(self._reap(sandbox, "evicted") for sandbox in idle))
        return len(idle)

    async def provision(self, desired: Sequence[Provision], *, wait: float = 0.0) -> dict[str, Provisioned]:
        targets = provision_targets(desired)
        problems = {key: problem for key, wanted in targets.items()
                    if (problem := self._runtime_problem(wanted.spec.runtime)) is not None}
        self._provisioner.replace(targets, problems=problems)
        await self._provisioner.settle(timeout=wait)
        return self._provisioner.status()

    def census(self) -> list[SandboxCount]:
        counts = self._generic_census()
        idle = Counter(sandbox.spec.runtime for pool in list(self._idle.values()) for sandbox in list(pool))
        busy = Counter(sandbox.spec.runtime for sandbox in list(self._busy) if not self._provisioner.owns(sandbox))
        counts += [SandboxCount("warm", "idle", runtime, count) for runtime, count in sorted(idle.items())]
        counts += [SandboxCount("warm", "busy", runtime, count) for runtime, count in sorted(busy.items())]
        return counts + self._provisioner.census()

    async def close(self) -> None:
        self._closing = True
        for task in (self._reaper, self._loan_keeper):
            if task is not None:
                task.cancel()
        self._loans.clear()
        # Starts and destroys are let finish (a cancelled one could leave a sandbox half made).
        provisioned = await self._provisioner.close()
        await asyncio.gather(*self._ending, return_exceptions=True)
        everything = [sandbox for pool in self._idle.values() for sandbox in pool] + provisioned + list(self._busy)
        self._idle.clear()
        self._busy.clear()
        await asyncio.gather(*(sandbox.destroy() for sandbox in everything), return_exceptions=True)
        await self._close_backend()

    async def _start(self, spec: FunctionSpec, *, prewarmed: bool = False, provisioned: bool = False,
                     init_limit: bool = True, lend: str | None = None) -> WarmSandbox:
        sandbox = await self._new_sandbox(spec, prewarmed=prewarmed, provisioned=provisioned,
                                          init_limit=init_limit, lend=lend)
        kind = "provisioned" if provisioned else "on_demand"
        STARTED.labels(kind).inc()
        if provisioned and sandbox.init_duration_ms is not None:  # a cold start's is observed with its result
            INIT_DURATION.labels(kind).observe(sandbox.init_duration_ms / 1000)
        return sandbox

    def idle_count(self, spec: FunctionSpec) -> int:
        return len(self._idle.get(spec.key, []))

    async def _take_ready(self, spec: FunctionSpec, counter: PromCounter) -> WarmSandbox | None:
        """An idle provisioned sandbox, else a warm one, now busy and counted in ``counter`` by start;
        None if neither is idle (a cold start)."""
        self._ensure_reaper()
        sandbox, start = self._provisioner.take(spec.key), "provisioned"
        if sandbox is None:
            sandbox, start = await self._take_warm(spec.key), "warm"
        if sandbox is not None:
            self._mark_busy(sandbox, start, counter)
        return sandbox

    def _mark_busy(self, sandbox: WarmSandbox, start: str, counter: PromCounter) -> None:
        counter.labels(start).inc()
        self._busy.add(sandbox)

    async def _take_warm(self, key: str) -> WarmSandbox | None:
        pool = self._idle.get(key)
        while pool:
            sandbox = pool.pop()
            if sandbox.alive:
                return sandbox
            await self._reap(sandbox, "dead")
        return None

    def _release(self, sandbox: WarmSandbox) -> None:
        self._busy.discard(sandbox)
        if not self._provisioner.give_back(sandbox):
            self._make_warm(sandbox)

    def _make_warm(self, sandbox: WarmSandbox) -> None:
        """Into the warm pool, reaped after the keep-alive."""
        self._ensure_reaper()
        sandbox.last_used = time.monotonic()
        self._idle[sandbox.spec.key].append(sandbox)

    async def _discard(self, sandbox: WarmSandbox, reason: str = "failed") -> None:
        self._busy.discard(sandbox)
        self._provisioner.lost(sandbox)
        await self._reap(sandbox, reason)

    async def _reap(self, sandbox: WarmSandbox, reason: str) -> None:
        """Destroy ``sandbox``; shielded, so a cancelled caller (the reaper, at close) never leaves it half done."""
        REAPED.labels(reason).inc()
        ending = asyncio.ensure_future(sandbox.destroy())
        self._ending.add(ending)
        ending.add_done_callback(self._ending.discard)
        with contextlib.suppress(Exception):
            await asyncio.shield(ending)

    def _ensure_reaper(self) -> None:
        if not self._closing and (self._reaper is None or self._reaper.done()):
            self._reaper = asyncio.get_running_loop().create_task(self._reap_idle_forever())

    async def _reap_idle_forever(self) -> None:
        interval = max(0.05, min(30.0, self._keep_alive_s / 4))
        while True:
            await asyncio.sleep(interval)
            await self.reap_idle()

    async def reap_idle(self) -> int:
        """Destroy the sandboxes idle for longer than the keep-alive; how many."""
        cutoff = time.monotonic() - self._keep_alive_s
        expired = []
        for key, pool in list(self._idle.items()):
            expired += [sandbox for sandbox in pool if sandbox.last_used < cutoff]
            pool[:] = [sandbox for sandbox in pool if sandbox.last_used >= cutoff]
            if not pool:
                del self._idle[key]
        for sandbox in expired:
            await self._reap(sandbox, "idle")
        return len(expired)


class ColdStarts:
    """The cold starts whose invocation is not answered yet, which refills of the generic pools let pass."""

    def __init__(self) -> None:
        self._count = 0
        self._none = asyncio.Event()
        self._none.set()
        self._last_answered = 0.0

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        self._count += 1
        self._none.clear()
        try:
            yield
        finally:
            self._count -= 1
            self._last_answered = time.monotonic()
            if not self._count:
                self._none.set()

    async def passed(self, *, grace: float, timeout: float) -> None:
        """Once none was in flight for ``grace`` seconds (the last answer still has to reach its caller,
        who needs a CPU for it), or after ``timeout`` seconds: a long one must not starve the pool."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while True:
                    await self._none.wait()
                    quiet_for = time.monotonic() - self._last_answered
                    if quiet_for >= grace and self._none.is_set():
                        return
                    await asyncio.sleep(grace - quiet_for)


def _observe_init(result: InvokeResult) -> None:
    if result.init_duration_ms is not None:
        INIT_DURATION.labels("on_demand").observe(result.init_duration_ms / 1000)

