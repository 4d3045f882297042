"""One sandbox of the local backend as the executor drives it: started, initialized, invoked.

A ``WarmSandbox`` pairs a running bubblewrap sandbox with the connection to its agent.
It serves one ``FunctionSpec`` for its whole life and one invocation at a time; any
failure that leaves its runtime in doubt (timeout, crash, out of memory, init error,
a broken connection) ends it.

Init has a limit of its own, as on Lambda: ``start`` sends the init frame and waits for the
agent's ``initialized`` frame (the handler imported, the function's init code run) before any
invocation is sent, so the function's timeout covers the invocation only. A cold start's init
may take ``Node.init_timeout_s`` (Lambda's 10 s); past it ``InitTimedOut`` is raised, the
sandbox destroyed, and the executor tries once more as Lambda's "suppressed init" does: init
and invocation together, within the function's timeout (``start`` with ``init_limit=False``).
A provisioned sandbox's init may take ``PROVISIONED_INIT_TIMEOUT_S`` or the function's timeout,
whichever is longer (Lambda's rule), and the agent ends the connection if its runtime dies
while the sandbox is idle, so ``alive`` turns false and the executor replaces it.

The agent's Unix socket is bound by the executor under ``<state dir>/agents`` (0700, never bound
into a sandbox) and handed to the agent as an inherited descriptor: no process of the sandbox can
connect to it, replace it or read what goes through it. The agent greets the connection with a
``ready`` frame naming its pid in the sandbox, which must be the one the seccomp guard protects.
What the agent reports is held to the executor's own measures (see ``figures``). Invocations and
their results go through an ``AgentLink``, the executor's own one or, once the sandbox is lent
(``lend``, ``revoke``), the holder's (see ``worker.executors.base``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runtimes.agent import protocol
from worker.executors import figures
from worker.executors.base import (
    ExecutorPlatformError,
    FunctionInitError,
    FunctionSpec,
    InvokeRequest,
    InvokeResult,
    error_payload,
)
from worker.executors.link import AgentLink
from worker.executors.local.cgroups import CgroupDriver
from worker.executors.local.interpreters import Interpreter
from worker.executors.local.sandbox import TASK_DIR, AsyncSandbox, SandboxError, SandboxSpec, UidPool, launch_async
from worker.executors.local.seccomp import AGENT_PID
from worker.executors.meter import Meter

AGENT = "/var/runtime/agent/__main__.py"
AGENT_SOCKETS = "agents"
RUNTIME_API = "127.0.0.1:9001"
#: Unsandboxed, every agent shares the host's loopback: each takes a port the kernel picks.
HOST_RUNTIME_API = "127.0.0.1:0"
#: Processes and threads one sandbox may hold, as Lambda's limit.
PIDS_MAX = 1024
START_TIMEOUT_S = 10.0
#: How long the init of a cold start may take: Lambda's init phase limit.
INIT_TIMEOUT_S = 10.0
#: How long a provisioned sandbox's init may take at least; a longer function timeout extends it (Lambda's rule).
PROVISIONED_INIT_TIMEOUT_S = 130.0
#: A generic sandbox's limits until it is specialized: enough for the idle agent.
GENERIC_MEMORY_MB = 128
GENERIC_TMP_MB = 512

_serial = itertools.count(1)


@dataclass(frozen=True)
class Node:
    """What every sandbox of this executor shares: where things live and how they are made."""

    runtime_dir: Path
    state_dir: Path
    region: str
    cgroups: CgroupDriver | None
    uids: UidPool | None
    isolation: bool
    seccomp: bool = True
    init_timeout_s: float = INIT_TIMEOUT_S


class InitTimedOut(Exception):
    """A cold start's init went past ``Node.init_timeout_s``; the sandbox is destroyed."""

    def __init__(self, limit_s: float) -> None:
        super().__init__(f"init did not finish within {limit_s:.2f} seconds")
        self.limit_s = limit_s


@dataclass
class Started:
    """A sandbox whose agent listens and is connected, waiting for its function's init."""

    sandbox: AsyncSandbox
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    socket_path: Path

    async def destroy(self) -> None:
        self.writer.close()
        await self.sandbox.destroy()
        self.socket_path.unlink(missing_ok=True)


async def launch_agent(*, node: Node, interpreter: Interpreter, code_dir: Path | None,
                       memory_mb: int = GENERIC_MEMORY_MB, tmp_mb: int = GENERIC_TMP_MB) -> Started:
    """Start a sandbox running the agent, and connect to it. Without ``code_dir``, a generic
    sandbox: no tenant's code, no tenant's limits yet (see ``AsyncSandbox.specialize``)."""
    sandbox_id = f"sandbox-{next(_serial)}-{int(time.time() * 1000) % 100000}"
    socket_path = node.state_dir / AGENT_SOCKETS / f"{sandbox_id}.sock"
    uid = node.uids.acquire() if node.uids else 1
    try:
        listener = _listen(socket_path)
    except ExecutorPlatformError:
        if node.uids:
            node.uids.release(uid)
        raise
    sandbox_spec = SandboxSpec(
        sandbox_id=sandbox_id, interpreter=interpreter,
        command=[str(interpreter.executable), "-I", "-S", AGENT, "--socket-fd", str(listener.fileno()),
                 "--runtime-api", RUNTIME_API if node.isolation else HOST_RUNTIME_API, "--task-root", TASK_DIR],
        code_dir=code_dir, runtime_dir=node.runtime_dir, tmp_mb=tmp_mb, memory_mb=memory_mb,
        pids_max=PIDS_MAX, uid=uid, gid=uid, seccomp=node.seccomp,
    )
    try:
        sandbox = await launch_async(sandbox_spec, cgroups=node.cgroups, state_root=node.state_dir / "staging",
                                     uids=node.uids, isolation=node.isolation, pass_fds=[listener.fileno()])
    except (SandboxError, OSError) as exc:
        if node.uids:
            node.uids.release(uid)
        socket_path.unlink(missing_ok=True)
        raise ExecutorPlatformError(f"a sandbox would not start: {exc}") from exc
    finally:
        listener.close()  # the agent holds it now: once the agent is gone, connecting is refused
    guarded = AGENT_PID if node.isolation and node.seccomp else None
    try:
        reader, writer = await _connect(socket_path, sandbox, agent_pid=guarded)
    except BaseException:
        await sandbox.destroy()
        socket_path.unlink(missing_ok=True)
        raise
    return Started(sandbox=sandbox, reader=reader, writer=writer, socket_path=socket_path)


def _listen(path: Path) -> socket.socket:
    """The agent's listening socket at ``path``, in a folder only the executor's user may enter."""
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.unlink(missing_ok=True)  # left by an executor that crashed: its sandbox is gone
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(str(path))
        listener.listen(4)
    except OSError as exc:
        listener.close()
        raise ExecutorPlatformError(f"cannot listen on {path}: {exc}") from exc
    return listener


class WarmSandbox:
    def __init__(self, *, started: Started, spec: FunctionSpec, init_sent_at: float) -> None:
        self.spec = spec
        self.sandbox = started.sandbox
        self._started = started
        self._reader = started.reader
        self._writer = started.writer
        cgroup = started.sandbox.cgroup
        self.meter = cgroup.meter if cgroup is not None else Meter(None)
        self.link = AgentLink(started.reader, started.writer, spec=spec, meter=self.meter)
        self.link.init_sent_at = init_sent_at  # perf_counter(): what an init duration is held to
        self.last_used = time.monotonic()
        self.init_duration_ms: float | None = None  # known once start waited for init
        self._lent: asyncio.Task[dict[str, object] | None] | None = None  # reads the agent's frames while lent

    @property
    def alive(self) -> bool:
        """False once the sandbox exited or its agent ended the connection."""
        return self.sandbox.returncode is None and not self._reader.at_eof()

    @property
    def endpoint(self) -> str:
        return f"unix:{self._started.socket_path}"

    @classmethod
    async def start(cls, spec: FunctionSpec, *, node: Node, interpreter: Interpreter, code_dir: Path,
                    generic: Started | None = None, prewarmed: bool = False,
                    provisioned: bool = False, init_limit: bool = True, lend: str | None = None) -> WarmSandbox:
        """A sandbox for ``spec``: ``generic`` specialized when given (a cold start then pays only
        for init), else one started now with the code in place. It is returned initialized, or
        destroyed and ``FunctionInitError``, ``InitTimedOut`` or ``ExecutorPlatformError`` raised.
        Without ``init_limit`` (the suppressed init), it is returned as soon as init began: the
        first invocation waits for init within the function's timeout. With ``lend``, a token, the
        sandbox is lent from its init on (see ``lend``)."""
        if generic is None:
            generic = await launch_agent(node=node, interpreter=interpreter, code_dir=code_dir,
                                         memory_mb=spec.memory_size, tmp_mb=spec.ephemeral_storage)
        else:
            try:
                generic.sandbox.specialize(code_dir, memory_mb=spec.memory_size, tmp_mb=spec.ephemeral_storage)
            except SandboxError as exc:
                await generic.destroy()
                raise ExecutorPlatformError(f"a sandbox for {spec.function_name} would not specialize: {exc}") from exc
        frame = _init_frame(spec, region=node.region, ahead=provisioned, announce=init_limit)
        if lend is not None:
            frame["lend"] = lend
        init_sent_at = time.perf_counter()
        try:
            generic.writer.write(protocol.encode(frame))
            await generic.writer.drain()
        except BaseException:
            await generic.destroy()
            raise
        sandbox = cls(started=generic, spec=spec, init_sent_at=init_sent_at)
        if provisioned or init_limit:
            try:
                await sandbox._initialized(provisioned=provisioned, limit_s=node.init_timeout_s)
            except BaseException:
                await sandbox.destroy()
                raise
            if not (provisioned or prewarmed):  # a cold start: its first result reports the init
                sandbox.link.pending_init_ms = sandbox.init_duration_ms
        if lend is not None:
            sandbox._watch_lent()
        return sandbox

    async def _initialized(self, *, provisioned: bool, limit_s: float) -> None:
        """Wait for the agent's ``initialized`` frame; raise if init failed or never ended."""
        timeout = max(PROVISIONED_INIT_TIMEOUT_S, float(self.spec.timeout)) if provisioned else limit_s
        try:
            async with asyncio.timeout(timeout):
                header, body = await protocol.receive_from(self._reader)
        except TimeoutError:
            if not provisioned:
                raise InitTimedOut(timeout) from None
            message = f"Init did not finish within {timeout:.2f} seconds"
            raise FunctionInitError(InvokeResult(
                payload=error_payload(error_type="Sandbox.Timedout", message=message), duration_ms=0.0,
                max_memory_used_mb=self.meter.peak_mb(), error_type="Sandbox.Timedout")) from None
        except (protocol.ProtocolError, ConnectionError) as exc:
            raise ExecutorPlatformError(f"a sandbox of {self.spec.function_name} ended in its init: {exc}") from None
        if header.get("op") != "initialized":
            raise ExecutorPlatformError(f"the agent answered init with {header.get('op')!r}")
        since_init = (time.perf_counter() - init_sent_at) * 1000 if (init_sent_at := self.link.init_sent_at) else 0.0
        self.init_duration_ms = figures.init_duration_ms(reported=header.get("init_duration_ms"),
                                                         measured_ms=since_init)
        if header.get("status") != "ready":
            raise FunctionInitError(InvokeResult(
                payload=body, duration_ms=0.0, max_memory_used_mb=self.meter.peak_mb(),
                log=str(header.get("log") or ""), init_duration_ms=self.init_duration_ms,
                error_type=header.get("error_type")))

    async def invoke(self, request: InvokeRequest) -> InvokeResult:
        """Run one invocation from the executor itself; raises ``FunctionError`` (after which this
        sandbox is dead unless the error was handled) or ``ExecutorPlatformError``."""
        try:
            return await self.link.invoke(request)
        finally:
            self.last_used = time.monotonic()

    @property
    def lent(self) -> bool:
        return self._lent is not None

    async def lend(self, token: str) -> None:
        """Have the agent serve the holder of ``token`` alone; from now on the connection is read by a
        task of its own, which ends with ``revoke``'s answer or with the connection (``on_end``)."""
        self._writer.write(protocol.encode({"op": "lend", "token": token}))
        try:
            await self._writer.drain()
            async with asyncio.timeout(START_TIMEOUT_S):
                header, _ = await protocol.receive_from(self._reader)
        except (TimeoutError, protocol.ProtocolError, ConnectionError) as exc:
            raise ExecutorPlatformError(f"the agent of {self.spec.function_name} would not be lent: {exc!r}") from None
        if header.get("op") != "lent":
            raise ExecutorPlatformError(f"the agent answered lend with {header.get('op')!r}")
        self._watch_lent()

    def _watch_lent(self) -> None:
        self._lent = asyncio.get_running_loop().create_task(self._next_frame())

    def on_lent_end(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` if the agent ends the connection while lent (its runtime ended)."""
        lent = self._lent
        if lent is not None:
            lent.add_done_callback(lambda task: None if task.cancelled() or task.result() else callback())

    async def revoke(self) -> bool:
        """End the lend; whether the sandbox can serve again (no invocation was in flight, the agent answered)."""
        lent, self._lent = self._lent, None
        if lent is None or lent.done():
            return False
        try:
            self._writer.write(protocol.encode({"op": "revoke"}))
            await self._writer.drain()
            async with asyncio.timeout(START_TIMEOUT_S):
                header = await asyncio.shield(lent)
        except (TimeoutError, ConnectionError):
            lent.cancel()
            return False
        return header is not None and header.get("op") == "revoked" and header.get("busy") is False

    async def _next_frame(self) -> dict[str, object] | None:
        try:
            header, _ = await protocol.receive_from(self._reader)
        except (protocol.ProtocolError, ConnectionError):
            return None
        return header

    async def destroy(self) -> None:
        if self._lent is not None:
            self._lent.cancel()
        await self._started.destroy()


def _init_frame(spec: FunctionSpec, *, region: str, ahead: bool, announce: bool) -> dict[str, object]:
    return {
        "op": "init", "runtime": spec.runtime, "handler": spec.handler, "function_name": spec.function_name,
        "function_version": spec.version, "memory_size": spec.memory_size,
        "environment": dict(spec.environment), "log_group_name": f"/aws/lambda/{spec.function_name}",
        "log_stream_name": f"{time.strftime('%Y/%m/%d')}/[{spec.version}]{spec.fingerprint[:32]}",
        "region": region, "initialization_type": "provisioned-concurrency" if ahead else "on-demand",
        "ahead_of_demand": ahead, "announce_init": announce,
    }


async def _connect(socket_path: Path, sandbox: AsyncSandbox, *,
                   agent_pid: int | None) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to the agent and wait for its ``ready`` frame (its pid ``agent_pid`` when given), or
    fail if the sandbox died first. The connection waits in the socket's backlog until the agent
    accepts it."""
    reader, writer = await asyncio.open_unix_connection(str(socket_path))
    try:
        async with asyncio.timeout(START_TIMEOUT_S):
            header, _ = await protocol.receive_from(reader)
    except TimeoutError:
        writer.close()
        raise ExecutorPlatformError(f"the agent was not ready within {START_TIMEOUT_S:.0f} s") from None
    except (protocol.ProtocolError, ConnectionError):
        writer.close()
        with contextlib.suppress(TimeoutError):  # its exit status and last words, if it is ending
            async with asyncio.timeout(1.0):
                await sandbox.wait()
        raise ExecutorPlatformError(f"the sandbox ended (exit status {sandbox.returncode}) before its agent was "
                                    f"ready: {sandbox.stderr.decode(errors='replace')[-2000:]}") from None
    if header.get("op") != "ready" or (agent_pid is not None and header.get("pid") != agent_pid):
        writer.close()
        raise ExecutorPlatformError(f"the agent greeted with {header!r:.200}, not as the ready agent of pid "
                                    f"{agent_pid} that the seccomp guard protects")
    return reader, writer

