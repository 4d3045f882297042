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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

from django.conf import settings

from worker.executors.base import (
    Executor,
    ExecutorPlatformError,
    FunctionHandledError,
    FunctionSpec,
    InvokeRequest,
    InvokeResult,
)
from worker.executors.local import cgroups
from worker.executors.local.code_cache import CodeCache
from worker.executors.local.interpreters import Interpreter, find_interpreters
from worker.executors.local.sandbox import UidPool, reap_orphans
from worker.executors.local.warm import Node, Started, WarmSandbox, launch_agent

logger = logging.getLogger(__name__)

RUNTIMES_DIR = Path(__file__).resolve().parents[3] / "runtimes"


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
                 region: str = "us-east-1", generic_pool_size: int = 2) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        state_dir.chmod(0o711)  # bwrap runs as the sandbox uids: they must traverse, never list
        driver = cgroups.detect() if isolation else None
        self._node = Node(runtime_dir=RUNTIMES_DIR, state_dir=state_dir, region=region, cgroups=driver,
                          uids=UidPool(base=uid_base) if isolation else None, isolation=isolation)
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
        self._idle: dict[str, list[WarmSandbox]] = defaultdict(list)
        self._busy: set[WarmSandbox] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._closing = False

    @classmethod
    def from_settings(cls) -> LocalExecutor:
        from lambent.functions.code_packages import read_code

        return cls(code_source=read_code, state_dir=settings.DATA_DIR / "sandboxes",
                   keep_alive_s=settings.KEEP_ALIVE_SECONDS, isolation=settings.SANDBOX == "bwrap",
                   interpreters=settings.PYTHON_INTERPRETERS, uid_base=settings.SANDBOX_UID_BASE,
                   region=settings.REGION, generic_pool_size=settings.GENERIC_POOL_SIZE)

    async def invoke(self, spec: FunctionSpec, request: InvokeRequest) -> InvokeResult:
        sandbox = await self._acquire(spec)
        try:
            result = await sandbox.invoke(request)
        except FunctionHandledError:
            self._release(sandbox)  # the runtime reported the error and serves on
            raise
        except BaseException:  # anything else leaves the runtime in doubt
            await self._discard(sandbox)
            raise
        self._release(sandbox)
        return result

    async def prewarm(self, spec: FunctionSpec, *, count: int = 1) -> int:
        missing = count - len(self._idle[spec.key])
        started = await asyncio.gather(*(self._start(spec, prewarmed=True) for _ in range(max(0, missing))))
        self._idle[spec.key].extend(started)
        return len(self._idle[spec.key])

    async def evict(self, spec: FunctionSpec) -> int:
        idle = self._idle.pop(spec.key, [])
        await asyncio.gather(*(sandbox.destroy() for sandbox in idle))
        return len(idle)

    async def close(self) -> None:
        self._closing = True
        if self._reaper is not None:
            self._reaper.cancel()
        # Refills are let finish (a cancelled launch could leave a sandbox half made), then reaped.
        await asyncio.gather(*self._refills.values(), return_exceptions=True)
        everything: list[WarmSandbox | Started] = [sandbox for pool in self._idle.values() for sandbox in pool]
        everything += list(self._busy) + [generic for pool in self._generic.values() for generic in pool]
        self._idle.clear()
        self._busy.clear()
        self._generic.clear()
        await asyncio.gather(*(sandbox.destroy() for sandbox in everything), return_exceptions=True)

    def idle_count(self, spec: FunctionSpec) -> int:
        return len(self._idle.get(spec.key, []))

    async def _acquire(self, spec: FunctionSpec) -> WarmSandbox:
        self._ensure_reaper()
        pool = self._idle.get(spec.key)
        sandbox = pool.pop() if pool else await self._start(spec)
        self._busy.add(sandbox)
        return sandbox

    def _release(self, sandbox: WarmSandbox) -> None:
        self._busy.discard(sandbox)
        sandbox.last_used = time.monotonic()
        self._idle[sandbox.spec.key].append(sandbox)

    async def _discard(self, sandbox: WarmSandbox) -> None:
        self._busy.discard(sandbox)
        await sandbox.destroy()

    async def _start(self, spec: FunctionSpec, *, prewarmed: bool = False) -> WarmSandbox:
        interpreter = self._interpreter(spec.runtime)
        code_dir = await self._code.path(spec.code_sha256)
        pool = self._generic[interpreter.executable]
        generic = pool.pop() if pool else None
        self._refill(interpreter)
        return await WarmSandbox.start(spec, node=self._node, interpreter=interpreter, code_dir=code_dir,
                                       generic=generic, prewarmed=prewarmed)

    def _refill(self, interpreter: Interpreter) -> None:
        """Top up the generic sandboxes of ``interpreter`` in the background."""
        running = self._refills.get(interpreter.executable)
        if self._generic_pool_size and not self._closing and (running is None or running.done()):
            self._refills[interpreter.executable] = asyncio.get_running_loop().create_task(
                self._fill_generic(interpreter))

    async def _fill_generic(self, interpreter: Interpreter) -> None:
        pool = self._generic[interpreter.executable]
        while len(pool) < self._generic_pool_size and not self._closing:
            try:
                pool.append(await launch_agent(node=self._node, interpreter=interpreter, code_dir=None))
            except ExecutorPlatformError:
                logger.exception("a generic sandbox for %s would not start", interpreter.runtime)
                return

    def generic_count(self, runtime: str) -> int:
        return len(self._generic.get(self._interpreter(runtime).executable, []))

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
        if self._reaper is None or self._reaper.done():
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
            with contextlib.suppress(Exception):
                await sandbox.destroy()
        return len(expired)

