"""The local backend: bubblewrap sandboxes on this host, kept warm per version.

Its sandboxes are pooled, leased and provisioned as ``worker.executors.pooled`` says. A new
one is made, as in Fission's pool manager or SOCK, by *specializing* a generic sandbox started
ahead of demand (agent and interpreter loaded, no tenant code): its code is bound in and its
limits set, so a cold start pays only for the function's own init. A generic sandbox, once
specialized, belongs to that version for ever; the pool of generic ones (``generic_pool_size`` per
interpreter) refills in the background. Concurrent cold starts of one version share the code
extraction.
At start the backend reaps what a previous executor process left behind (sandboxes, cgroups,
mounts).

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
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

from django.conf import settings

from lambent.functions.archives import ArchiveError
from worker.executors.base import ExecutorPlatformError, FunctionInitError, FunctionSpec, SandboxCount, invalid_package
from worker.executors.local import cgroups
from worker.executors.local.code_cache import CodeCache
from worker.executors.local.interpreters import Interpreter, find_interpreters
from worker.executors.local.launch import Node, Started, launch_agent, start_sandbox
from worker.executors.local.sandbox import UidPool, check_seccomp, reap_orphans
from worker.executors.metrics import STARTED
from worker.executors.pooled import LEASE_S, PooledExecutor
from worker.executors.warm import INIT_TIMEOUT_S, WarmSandbox

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


def _precompile_runtimes(interpreters: Iterable[Interpreter]) -> None:
    """Byte-compile ``runtimes/`` for each interpreter once: ``/var/runtime`` is read-only in a
    sandbox, so an agent could never write its ``__pycache__`` and would recompile itself at
    every start (57 ms instead of 22 ms measured here)."""
    for interpreter in interpreters:
        subprocess.run([str(interpreter.executable), "-I", "-S", "-m", "compileall", "-q", str(RUNTIMES_DIR)],
                       check=False, capture_output=True, timeout=120)


class LocalExecutor(PooledExecutor):
    sandboxes_on_this_host = True

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
        self._generic_pool_size = generic_pool_size if isolation else 0  # specializing needs bwrap's mounts
        self._generic: dict[Path, list[Started]] = defaultdict(list)
        self._refills: dict[Path, asyncio.Task[None]] = {}
        super().__init__(keep_alive_s=keep_alive_s, lease_s=lease_s)
    @classmethod
    def from_settings(cls) -> LocalExecutor:
        from lambent.functions.code_packages import read_code

        return cls(code_source=read_code, state_dir=settings.DATA_DIR / "sandboxes",
                   keep_alive_s=settings.KEEP_ALIVE_SECONDS, isolation=settings.SANDBOX == "bwrap",
                   interpreters=settings.PYTHON_INTERPRETERS, uid_base=settings.SANDBOX_UID_BASE,
                   region=settings.REGION, generic_pool_size=settings.GENERIC_POOL_SIZE,
                   cgroup_parent=settings.CGROUP_PARENT, seccomp=settings.SECCOMP == "default",
                   lease_s=settings.SANDBOX_LEASE_SECONDS)

    async def _new_sandbox(self, spec: FunctionSpec, *, prewarmed: bool, provisioned: bool, init_limit: bool,
                           lend: str | None) -> WarmSandbox:
        interpreter = self._interpreter(spec.runtime)
        try:
            code_dir = await self._code.path(spec.code_sha256)
        except ArchiveError as exc:  # a package stored before its limits existed: the function's fault
            raise FunctionInitError(invalid_package(str(exc))) from None
        pool = self._generic[interpreter.executable]
        generic = pool.pop() if pool else None
        self._refill(interpreter)
        return await start_sandbox(spec, node=self._node, interpreter=interpreter, code_dir=code_dir,
                                   generic=generic, prewarmed=prewarmed, provisioned=provisioned,
                                   init_limit=init_limit, lend=lend)

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

    def _runtime_problem(self, runtime: str) -> str | None:
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

    def _generic_census(self) -> list[SandboxCount]:
        runtimes = {interpreter.executable: interpreter.runtime for interpreter in self._interpreters.values()}
        return [SandboxCount("generic", "idle", runtimes.get(executable, str(executable)), len(pool))
                for executable, pool in list(self._generic.items())]

    async def _close_backend(self) -> None:
        await asyncio.gather(*self._refills.values(), return_exceptions=True)
        generic = [started for pool in self._generic.values() for started in pool]
        self._generic.clear()
        await asyncio.gather(*(started.destroy() for started in generic), return_exceptions=True)
        if self._node.cgroups is not None:
            self._node.cgroups.remove_parents()
