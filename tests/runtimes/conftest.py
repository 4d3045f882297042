"""Fixtures for the sandbox runtimes: a real agent process, driven over its Unix socket as the executor does.

The agent runs as ``python -I -S runtimes/agent/__main__.py`` with an almost empty environment, as the
executor starts it in a sandbox (a forked Python runtime's ``/proc/self/environ`` shows the agent's
exec-time environment; see ``runtimes/agent/launcher.py``). The Runtime API listens on port 0, so
parallel runs never collide; a runtime learns the real port from ``AWS_LAMBDA_RUNTIME_API``.
"""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from runtimes.agent import protocol

ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "runtimes" / "agent" / "__main__.py"
TIMEOUT = 20.0


class Agent:
    """One agent process and the platform's connection to it. As the executor does, the test binds
    the listening socket and the agent inherits it."""

    def __init__(self, *, task_root: Path, socket_path: Path, environment: dict[str, str]) -> None:
        self.task_root = task_root
        self.socket_path = socket_path
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(str(socket_path))
            listener.listen(4)
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    "-S",
                    str(AGENT),
                    "--socket-fd",
                    str(listener.fileno()),
                    "--runtime-api",
                    "127.0.0.1:0",
                    "--task-root",
                    str(task_root),
                ],
                env=environment,
                stderr=subprocess.PIPE,
                pass_fds=[listener.fileno()],
            )
        self.sock = self.connect()
        self.ready, _ = protocol.receive(self.sock)

    def connect(self) -> socket.socket:
        """A connection to the agent's socket (it waits in the backlog until the agent accepts it)."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(TIMEOUT)
        sock.connect(str(self.socket_path))
        return sock

    def init(self, *, runtime: str = "python3.12", handler: str = "app.handler", **fields: object) -> None:
        header = {
            "op": "init",
            "runtime": runtime,
            "handler": handler,
            "function_name": "my-function",
            "function_version": "7",
            "memory_size": 256,
            "environment": {},
            "log_group_name": "/aws/lambda/my-function",
            "log_stream_name": "2026/01/01/[7]abc",
            "region": "eu-west-3",
            "initialization_type": "on-demand",
        }
        header.update(fields)
        protocol.send(self.sock, header)

    def invoke_raw(self, payload: bytes, **fields: object) -> tuple[dict, bytes]:
        request_id = self.send_invoke(payload, **fields)
        result, body = self.receive_result()
        assert result["request_id"] == request_id, result
        return result, body

    def send_invoke(self, payload: bytes, **fields: object) -> str:
        """Send an invoke frame without waiting for its result; its request id."""
        header = {
            "op": "invoke",
            "request_id": str(uuid.uuid4()),
            "deadline_ms": int(time.time() * 1000) + 30_000,
            "invoked_function_arn": "arn:aws:lambda:eu-west-3:000000000000:function:my-function:live",
            "trace_id": None,
            "client_context": None,
            "cognito_identity": None,
        }
        header.update(fields)
        protocol.send(self.sock, header, payload)
        return str(header["request_id"])

    def receive_result(self) -> tuple[dict, bytes]:
        result, body = protocol.receive(self.sock)
        assert result["op"] == "result", result
        return result, body

    def invoke(self, event: object = None, **fields: object) -> tuple[dict, object]:
        """Invoke with a JSON event; the body of the result decoded as JSON."""
        result, body = self.invoke_raw(json.dumps(event).encode(), **fields)
        return result, json.loads(body) if body else None

    def stderr(self) -> str:
        """The agent's own stderr (its diagnostics), once it has exited."""
        assert self.process.stderr is not None
        return self.process.stderr.read().decode()

    def close(self) -> int:
        """Close the platform connection, as the executor does to discard a sandbox; the agent's exit status."""
        self.sock.close()
        return self.process.wait(TIMEOUT)

    def runtime_api(self) -> str:
        """The Runtime API address, which a ``provided`` test runtime writes to ``api.txt`` in the task root."""
        path = self.task_root / "api.txt"
        deadline = time.monotonic() + TIMEOUT
        while not path.exists() or not path.read_text().endswith("\n"):
            assert time.monotonic() < deadline, "the runtime did not write api.txt"
            time.sleep(0.001)
        return path.read_text().strip()


class TcpAgent(Agent):
    """An agent listening on TCP (``--listen``), as in a pod: the platform attaches with the key
    whose digest is in the agent's environment. ``attach=False`` leaves the attaching to the test."""

    def __init__(self, *, task_root: Path, key: str, environment: dict[str, str], attach: bool = True,
                 wrapper: Sequence[str] = ()) -> None:
        self.task_root = task_root
        self.key = key
        self.key_digest = hashlib.sha256(key.encode()).hexdigest()
        self.port = free_port()
        self.process = subprocess.Popen(
            [*wrapper, sys.executable, "-I", "-S", str(AGENT), "--listen", f"tcp:127.0.0.1:{self.port}",
             "--runtime-api", "127.0.0.1:0", "--task-root", str(task_root)],
            env={"LAMBENT_AGENT_KEY_SHA256": self.key_digest, **environment},
            stderr=subprocess.PIPE,
        )
        self.sock = self.connect()
        if attach:
            self.ready = self.attach(self.sock)

    def connect(self) -> socket.socket:
        """A TCP connection to the agent, once it listens."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                return socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)
            except ConnectionRefusedError:
                assert self.process.poll() is None, "the agent exited"
                assert time.monotonic() < deadline, "the agent does not listen"
                time.sleep(0.005)

    def attach(self, sock: socket.socket, key: str | None = None) -> dict:
        """Send the attach frame on ``sock``; the agent's answer (``ready``)."""
        protocol.send(sock, {"op": "attach", "key": self.key if key is None else key})
        return protocol.receive(sock)[0]

    def specialize(self, code: object) -> dict:
        protocol.send(self.sock, {"op": "specialize", "code": code})
        return protocol.receive(self.sock)[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def closed_by_peer(sock: socket.socket) -> bool:
    """Whether the peer closed ``sock`` without sending anything (reset counts as closed)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


@pytest.fixture
def task_root(tmp_path: Path) -> Path:
    root = tmp_path / "task"
    root.mkdir()
    return root


@pytest.fixture
def write(task_root: Path) -> Callable[..., Path]:
    """Write a file of the function's code: ``write("app.py", source)``; ``executable=True`` for a bootstrap."""

    def write_file(name: str, source: str, *, executable: bool = False) -> Path:
        path = task_root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip())
        if executable:
            path.chmod(0o755)
        return path

    return write_file


@pytest.fixture
def start_agent(task_root: Path, tmp_path: Path) -> Iterator[Callable[..., Agent]]:
    """Start an agent; ``environment`` is its whole exec-time environment (empty by default, as in a sandbox)."""
    agents: list[Agent] = []

    def start(environment: dict[str, str] | None = None) -> Agent:
        agent = Agent(
            task_root=task_root, socket_path=tmp_path / f"agent-{len(agents)}.sock", environment=environment or {}
        )
        agents.append(agent)
        return agent

    yield start
    for agent in agents:
        # Leave as the executor does, so the agent kills its runtime: outside a pid namespace nothing
        # else would (a runtime that sleeps outlives an agent killed outright).
        agent.sock.close()
        try:
            agent.process.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            agent.process.kill()
            agent.process.wait(TIMEOUT)
        if agent.process.stderr is not None:
            agent.process.stderr.close()


@pytest.fixture
def agent(start_agent: Callable[..., Agent]) -> Agent:
    return start_agent()


@pytest.fixture
def start_tcp_agent(task_root: Path) -> Iterator[Callable[..., TcpAgent]]:
    """Start an agent on TCP; ``environment`` is added to the key's digest, its only variable by default."""
    agents: list[TcpAgent] = []

    def start(*, key: str = "the-platform's-key", environment: dict[str, str] | None = None,
              attach: bool = True, wrapper: Sequence[str] = ()) -> TcpAgent:
        agent = TcpAgent(task_root=task_root, key=key, environment=environment or {}, attach=attach,
                         wrapper=wrapper)
        agents.append(agent)
        return agent

    yield start
    for agent in agents:
        agent.sock.close()
        agent.process.terminate()  # one the platform never attached to still waits: SIGTERM ends it cleanly
        agent.process.wait(TIMEOUT)
        if agent.process.stderr is not None:
            agent.process.stderr.close()


def process_gone(pid: int) -> bool:
    """True once ``pid`` no longer exists (a zombie counts as gone: it runs nothing)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_until(condition: Callable[[], bool], *, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)
