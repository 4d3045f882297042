"""How the local backend starts a sandbox: a bubblewrap process running the agent, connected.

``launch_agent`` starts one (``Started``, the ``AgentHandle`` the shared ``WarmSandbox`` drives);
without code it is *generic*, made ahead of demand, and ``start_sandbox`` specializes it for a
function (its code bound in, its limits set) before the function's init.

The agent's Unix socket is bound by the executor under ``<state dir>/agents`` (0700, never bound
into a sandbox) and handed to the agent as an inherited descriptor: no process of the sandbox can
connect to it, replace it or read what goes through it. The agent greets the connection with a
``ready`` frame naming its pid in the sandbox, which must be the one the seccomp guard protects.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from runtimes.agent import protocol
from worker.executors.base import ExecutorPlatformError, FunctionSpec
from worker.executors.local.cgroups import CgroupDriver
from worker.executors.local.interpreters import Interpreter
from worker.executors.local.sandbox import TASK_DIR, AsyncSandbox, SandboxError, SandboxSpec, UidPool, launch_async
from worker.executors.local.seccomp import AGENT_PID
from worker.executors.meter import Meter
from worker.executors.warm import INIT_TIMEOUT_S, START_TIMEOUT_S, AgentHandle, WarmSandbox

AGENT = "/var/runtime/agent/__main__.py"
AGENT_SOCKETS = "agents"
RUNTIME_API = "127.0.0.1:9001"
#: Unsandboxed, every agent shares the host's loopback: each takes a port the kernel picks.
HOST_RUNTIME_API = "127.0.0.1:0"
#: Processes and threads one sandbox may hold, as Lambda's limit.
PIDS_MAX = 1024
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


@dataclass
class Started(AgentHandle):
    """A sandbox whose agent listens and is connected, waiting for its function's init."""

    sandbox: AsyncSandbox
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    socket_path: Path

    @property
    def exited(self) -> bool:
        return self.sandbox.returncode is not None

    @property
    def endpoint(self) -> str:
        return f"unix:{self.socket_path}"

    @property
    def meter_directory(self) -> str | None:
        cgroup = self.sandbox.cgroup
        return str(cgroup.memory_directory) if cgroup is not None else None

    def meter(self) -> Meter:
        cgroup = self.sandbox.cgroup
        return cgroup.meter if cgroup is not None else Meter(None)

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


async def start_sandbox(spec: FunctionSpec, *, node: Node, interpreter: Interpreter, code_dir: Path,
                        generic: Started | None = None, prewarmed: bool = False, provisioned: bool = False,
                        init_limit: bool = True, lend: str | None = None) -> WarmSandbox:
    """A sandbox for ``spec``: ``generic`` specialized when given (a cold start then pays only for
    init), else one started now with the code in place; then initialized (``WarmSandbox.initialize``)."""
    if generic is None:
        generic = await launch_agent(node=node, interpreter=interpreter, code_dir=code_dir,
                                     memory_mb=spec.memory_size, tmp_mb=spec.ephemeral_storage)
    else:
        try:
            generic.sandbox.specialize(code_dir, memory_mb=spec.memory_size, tmp_mb=spec.ephemeral_storage)
        except SandboxError as exc:
            await generic.destroy()
            raise ExecutorPlatformError(f"a sandbox for {spec.function_name} would not specialize: {exc}") from exc
    return await WarmSandbox.initialize(generic, spec, region=node.region, init_timeout_s=node.init_timeout_s,
                                        prewarmed=prewarmed, provisioned=provisioned, init_limit=init_limit,
                                        lend=lend)


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

