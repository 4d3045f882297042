"""The local backend: bubblewrap sandboxes on this host, kept warm per version.

Idle sandboxes wait in a pool per ``FunctionSpec.key``: an invocation takes one, or
makes a new one when none is idle, so concurrent invocations of one version run in
parallel sandboxes. A new one is made, as in Fission's pool manager or SOCK, by
*specializing* a generic sandbox started ahead of demand (agent and interpreter loaded,
no tenant code): its code is bound in and its limits set, so a cold start pays only for
the function's own init. A generic sandbox, once specialized, belongs to that version for
ever; the pool of generic ones (``generic_pool_size`` per interpreter) refills in the
background. Concurrent cold starts of one version share the code extraction.
Idle sandboxes are reaped after the keep-alive; at start the backend reaps what a
previous executor process left behind (sandboxes, cgroups, mounts).

What a cold start from the pool costs (3.4 ms median at the executor for a stdlib-only handler,
measured on the 2-vCPU v1 dev host): specializing (the binds; the limits are written only when
they differ from the generic sandbox's), the agent waking for the init frame, the function's
init in a runtime process the agent forked as it started (see ``runtimes/agent/launcher.py``),
and the first invocation's round trips between executor, agent and runtime. The refill of the
generic pool waits until the cold starts in flight are answered and their answers on their way
(``REFILL_GRACE_S``; ``REFILL_YIELD_S`` at most): started alongside, it made them twice as slow.

Why no per-version template to fork sandboxes from (a process that imported the handler, as
SnapStart restores a snapshot taken after init): a fork keeps its parent's uid, namespaces and
cgroup, and a sandbox may create no namespace (``--disable-userns``, no capabilities). To give
each fork its own pid, mount (``/tmp``) and network namespaces, the template would need a user
namespace in which it holds every capability. The process that forks is the one that ran the
function's init, so the function's code could use that power; a child can do nothing its parent
cannot, so the template could enter any of its forks; and every fork would share the template's
host uid. Today no sandbox has any power over another. Nor would it pay for a small function:
those namespaces alone (a second fork for the pid namespace, a network namespace, the mounts,
dropping capabilities) took 3.4 ms in a forked Python zygote here, against 1.2 ms for the bare
fork-from-zygote floor, and moving a process into a v1 cgroup of its own costs ~7 ms (one RCU
grace period per hierarchy). A function whose init is long (boto3 alone: ~400 ms) has it paid
ahead of demand with provisioned concurrency instead, in sandboxes isolated as any other.

Provisioned sandboxes (``provision``, kept by ``provisioned.Provisioner``) are started and
initialized ahead of demand and never reaped for idleness; an invocation takes one of them
before a warm one, and starts a new sandbox only when neither is idle. Everything is
counted in ``worker.executors.metrics``.

Sandboxes are lent the same way (``borrow``): the one taken, or started, is handed to the
agent's holder with a token (``WarmSandbox.lend``) and is busy until it is given back, its lease
expires (``lease_s`` after it was granted or last renewed; checked every quarter of it), or its
runtime ends while lent (the agent then ends the executor's connection). Whatever ends a lease,
the sandbox is revoked and idle again, or destroyed if an invocation was in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from django.conf import settings
from prometheus_client import Counter as PromCounter

from lambent.functions.archives import ArchiveError
from worker.executors.base import (
    Endpoint,
    Executor,
    ExecutorPlatformError,
    FunctionError,
    FunctionHandledError,
    FunctionInitError,
    FunctionSpec,
    InvokeRequest,
    InvokeResult,
    Lease,
    Provision,
    Provisioned,
    SandboxCount,
    SandboxLink,
    invalid_package,
    provision_targets,
)
from worker.executors.link import AgentLink
from worker.executors.local import cgroups
from worker.executors.local.code_cache import CodeCache
from worker.executors.local.interpreters import Interpreter, find_interpreters
from worker.executors.local.provisioned import Provisioner
from worker.executors.local.sandbox import UidPool, check_seccomp, reap_orphans
from worker.executors.local.warm import INIT_TIMEOUT_S, InitTimedOut, Node, Started, WarmSandbox, launch_agent
from worker.executors.metrics import INIT_DURATION, INVOCATIONS, LEASES, LEASES_ENDED, REAPED, STARTED

logger = logging.getLogger(__name__)

RUNTIMES_DIR = Path(__file__).resolve().parents[3] / "runtimes"
#: The longest a refill of a generic pool waits for the cold starts in flight to be answered, and
#: how long after the last answer. A generic sandbox's start (staging mounts and a cgroup made on
#: the event loop, three execs and an interpreter's start: ~20 ms of CPU) made the cold start that
#: emptied the pool twice as slow when it ran alongside (6.6 against 3.5 ms measured at the
#: executor on the 2-vCPU dev host), and delayed the answer's delivery to the caller by 1.5 ms
#: when it began as the answer left.
REFILL_YIELD_S = 0.1
REFILL_GRACE_S = 0.01
#: How long a lease lasts unless renewed.
LEASE_S = 10.0


@dataclass
class _Loan:
    sandbox: WarmSandbox
    expires_at: float  # time.monotonic()


def _precompile_runtimes(interpreters: Iterable[Interpreter]) -> None:
    """Byte-compile ``runtimes/`` for each interpreter once: ``/var/runtime`` is read-only in a
    sandbox, so an agent could never write its ``__pycache__`` and would recompile itself at
    every start (57 ms instead of 22 ms measured here)."""
    for interpreter in interpreters:
        subprocess.run([str(interpreter.executable), "-I", "-S", "-m", "compileall", "-q", str(RUNTIMES_DIR)],
                       check=False, capture_output=True, timeout=120)


class LocalExecutor(Executor):
    def __init__(self, *, code_source: Callable[[str], bytes], state_dir: Path, keep_alive_s: float,
                 isolation: bool = True, interpreters: dict[str, str] | None = None, uid_base: int = 200000,
                 region: str = "us-east-1", generic_pool_size: int = 2,
                 cgroup_parent: str = cgroups.DEFAULT_PARENT, init_timeout_s: float = INIT_TIMEOUT_S,
                 seccomp: bool = True, lease_s: float = LEASE_S) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        state_dir.chmod(0o711)  # bwrap runs as the sandbox uids: they must traverse, never list
        driver = cgroups.detect(parent=cgroup_parent) if isolation else None
        if isolation and seccomp:
            check_seccomp()  # an executor that could start no sandbox does not start at all
        self._node = Node(runtime_dir=RUNTIMES_DIR, state_dir=state_dir, region=region, cgroups=driver,
                          uids=UidPool(base=uid_base) if isolation else None, isolation=isolation,
                          init_timeout_s=init_timeout_s, seccomp=seccomp)
        if driver is not None:
            reaped = reap_orphans(cgroups=driver, state_root=state_dir / "staging")
            if reaped:
                logger.warning("reaped %d sandboxes left by a previous executor", len(reaped))
        self._code = CodeCache(root=state_dir / "code", source=code_source)
        self._interpreters = find_interpreters(interpreters or {})
        _precompile_runtimes(self._interpreters.values())
        self._keep_alive_s = keep_alive_s
        self._generic_pool_size = generic_pool_size if isolation else 0  # specializing needs bwrap's mounts
        self._generic: dict[Path, list[Started]] = defaultdict(list)
        self._refills: dict[Path, asyncio.Task[None]] = {}
        self._cold_starts = _ColdStarts()
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

    @classmethod
    def from_settings(cls) -> LocalExecutor:
        from lambent.functions.code_packages import read_code

        return cls(code_source=read_code, state_dir=settings.DATA_DIR / "sandboxes",
                   keep_alive_s=settings.KEEP_ALIVE_SECONDS, isolation=settings.SANDBOX == "bwrap",
                   interpreters=settings.PYTHON_INTERPRETERS, uid_base=settings.SANDBOX_UID_BASE,
                   region=settings.REGION, generic_pool_size=settings.GENERIC_POOL_SIZE,
                   cgroup_parent=settings.CGROUP_PARENT, seccomp=settings.SECCOMP == "default",
                   lease_s=settings.SANDBOX_LEASE_SECONDS)

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
        meter = sandbox.sandbox.cgroup.memory_directory if sandbox.sandbox.cgroup is not None else None
        return Lease(lease_id=lease_id, spec_key=spec.key, expires_in_s=self._lease_s,
                     endpoint=Endpoint(address=sandbox.endpoint, token=token, meter=str(meter) if meter else None),
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
                    if (problem := self._interpreter_problem(wanted.spec.runtime)) is not None}
        self._provisioner.replace(targets, problems=problems)
        await self._provisioner.settle(timeout=wait)
        return self._provisioner.status()

    def census(self) -> list[SandboxCount]:
        runtimes = {interpreter.executable: interpreter.runtime for interpreter in self._interpreters.values()}
        counts = [SandboxCount("generic", "idle", runtimes.get(executable, str(executable)), len(pool))
                  for executable, pool in list(self._generic.items())]
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
        # Starts, refills and destroys are let finish (a cancelled one could leave a sandbox half made).
        provisioned = await self._provisioner.close()
        await asyncio.gather(*self._refills.values(), *self._ending, return_exceptions=True)
        everything: list[WarmSandbox | Started] = [sandbox for pool in self._idle.values() for sandbox in pool]
        everything += provisioned
        everything += list(self._busy) + [generic for pool in self._generic.values() for generic in pool]
        self._idle.clear()
        self._busy.clear()
        self._generic.clear()
        await asyncio.gather(*(sandbox.destroy() for sandbox in everything), return_exceptions=True)
        if self._node.cgroups is not None:
            self._node.cgroups.remove_parents()

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

    async def _start(self, spec: FunctionSpec, *, prewarmed: bool = False, provisioned: bool = False,
                     init_limit: bool = True, lend: str | None = None) -> WarmSandbox:
        interpreter = self._interpreter(spec.runtime)
        try:
            code_dir = await self._code.path(spec.code_sha256)
        except ArchiveError as exc:  # a package stored before its limits existed: the function's fault
            raise FunctionInitError(invalid_package(str(exc))) from None
        pool = self._generic[interpreter.executable]
        generic = pool.pop() if pool else None
        self._refill(interpreter)
        sandbox = await WarmSandbox.start(spec, node=self._node, interpreter=interpreter, code_dir=code_dir,
                                          generic=generic, prewarmed=prewarmed, provisioned=provisioned,
                                          init_limit=init_limit, lend=lend)
        kind = "provisioned" if provisioned else "on_demand"
        STARTED.labels(kind).inc()
        if provisioned and sandbox.init_duration_ms is not None:  # a cold start's is observed with its result
            INIT_DURATION.labels(kind).observe(sandbox.init_duration_ms / 1000)
        return sandbox

    def _refill(self, interpreter: Interpreter) -> None:
        """Top up the generic sandboxes of ``interpreter`` in the background."""
        running = self._refills.get(interpreter.executable)
        if self._generic_pool_size and not self._closing and (running is None or running.done()):
            self._refills[interpreter.executable] = asyncio.get_running_loop().create_task(
                self._fill_generic(interpreter))

    async def _fill_generic(self, interpreter: Interpreter) -> None:
        pool = self._generic[interpreter.executable]
        while len(pool) < self._generic_pool_size and not self._closing:
            await self._cold_starts.passed(grace=REFILL_GRACE_S, timeout=REFILL_YIELD_S)
            if self._closing:
                return
            try:
                pool.append(await launch_agent(node=self._node, interpreter=interpreter, code_dir=None))
                STARTED.labels("generic").inc()
            except ExecutorPlatformError:
                logger.exception("a generic sandbox for %s would not start", interpreter.runtime)
                return

    def generic_count(self, runtime: str) -> int:
        return len(self._generic.get(self._interpreter(runtime).executable, []))

    def _interpreter_problem(self, runtime: str) -> str | None:
        try:
            self._interpreter(runtime)
        except ExecutorPlatformError as exc:
            return str(exc)
        return None

    def _interpreter(self, runtime: str) -> Interpreter:
        """The runtime's own interpreter; a custom runtime's agent runs on any of them."""
        if runtime.startswith("python"):
            found = self._interpreters.get(runtime)
        else:
            found = next(iter(sorted(self._interpreters.items())), (None, None))[1]
        if found is None:
            raise ExecutorPlatformError(f"this node has no interpreter for runtime {runtime}")
        return found

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


class _ColdStarts:
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

