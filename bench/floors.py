"""The floors: the least any platform could do for the same work, measured on this machine.

- ``BareServer``: an asyncio HTTP server that hands each request body over a Unix socket
  to a pre-forked worker process running the same handler, and answers in one write;
- ``AcceptFloor``: the same server answering 202 once it has committed one row in the
  platform's SQLite file and pushed one message to the platform's Redis;
- ``cold_floor_ms``: starting ``python3 -I -S`` inside bubblewrap and importing the handler;
- ``idle_python_private_mb``: the private memory of a fresh, idle ``python3``.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import os
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Self

import redis

_LENGTH = struct.Struct(">I")


def _worker(sock: socket.socket, handler_source: str) -> None:
    namespace: dict[str, object] = {}
    exec(compile(handler_source, "app.py", "exec"), namespace)  # noqa: S102 - the benchmark's own handler
    handler = namespace["handler"]
    stream = sock.makefile("rb")
    while True:
        header = stream.read(4)
        if not header:
            return
        body = stream.read(_LENGTH.unpack(header)[0])
        result = json.dumps(handler(json.loads(body), None)).encode()  # type: ignore[operator]
        sock.sendall(_LENGTH.pack(len(result)) + result)


class _HttpFloor(abc.ABC):
    """An asyncio HTTP/1.1 server in a thread with its own event loop: keep-alive, one write
    per response, ``_answer`` deciding each response from the request's body."""

    def __init__(self) -> None:
        self.port = 0
        self.thread_id = 0  # the serving thread's, as /proc/self/task names it
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def __enter__(self) -> Self:
        threading.Thread(target=self._serve, daemon=True).start()
        self._ready.wait()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)

    def _serve(self) -> None:
        self.thread_id = threading.get_native_id()
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        await self._prepare()
        server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]

    async def _prepare(self) -> None:  # noqa: B027 - an optional hook
        """Whatever the loop must hold before the first request."""

    @abc.abstractmethod
    async def _answer(self, body: bytes) -> bytes:
        """The whole response to a request with this body."""

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            writer.write(await self._answer(await reader.readexactly(length)))
        writer.close()


def _response(status: bytes, body: bytes) -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


class BareServer(_HttpFloor):
    """One pre-forked worker per connection slot, each running the handler."""

    def __init__(self, handler_source: str, *, workers: int = 1) -> None:
        super().__init__()
        self.handler_source = handler_source
        self.workers = workers
        self.pids: list[int] = []
        self._pool: list[socket.socket] = []

    def __enter__(self) -> Self:
        for _ in range(self.workers):
            parent, child = socket.socketpair()
            pid = os.fork()
            if pid == 0:
                parent.close()
                try:
                    _worker(child, self.handler_source)
                finally:
                    os._exit(0)
            child.close()
            self.pids.append(pid)
            self._pool.append(parent)
        return super().__enter__()

    def __exit__(self, *exc: object) -> None:
        for sock in self._pool:
            sock.close()
        for pid in self.pids:
            os.waitpid(pid, 0)
        super().__exit__()

    async def _prepare(self) -> None:
        self._idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
        for sock in self._pool:
            self._idle.put_nowait(await asyncio.open_unix_connection(sock=sock))

    async def _answer(self, body: bytes) -> bytes:
        worker_reader, worker_writer = await self._idle.get()
        worker_writer.write(_LENGTH.pack(len(body)) + body)
        size = _LENGTH.unpack(await worker_reader.readexactly(4))[0]
        result = await worker_reader.readexactly(size)
        self._idle.put_nowait((worker_reader, worker_writer))
        return _response(b"200 OK", result)


class AcceptFloor(_HttpFloor):
    """For each request: insert and commit one row in ``database`` (a table of its own, the
    platform's pragmas, an immediate transaction as the platform's), push one message to
    the Redis on ``redis_socket``, then answer 202 with a request id. Both stores are
    reached from the event loop, blocking: nothing else waits on it."""

    TABLE = "bench_floor_event"
    QUEUE = "bench-floor-accept"

    def __init__(self, *, database: Path, redis_socket: Path) -> None:
        super().__init__()
        self.database = database
        self.redis_socket = redis_socket

    async def _prepare(self) -> None:
        self._db = sqlite3.connect(self.database, isolation_level=None, timeout=20, check_same_thread=False)
        self._db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                               f"CREATE TABLE IF NOT EXISTS {self.TABLE} (id INTEGER PRIMARY KEY, body BLOB);")
        self._redis = redis.Redis(unix_socket_path=str(self.redis_socket), socket_timeout=2)
        self._redis.ping()

    def __exit__(self, *exc: object) -> None:
        super().__exit__()
        self._redis.delete(self.QUEUE)
        self._redis.close()
        self._db.close()

    async def _answer(self, body: bytes) -> bytes:
        request_id = str(uuid.uuid4())
        self._db.execute("BEGIN IMMEDIATE")
        self._db.execute(f"INSERT INTO {self.TABLE} (body) VALUES (?)", (body,))
        self._db.execute("COMMIT")
        self._redis.lpush(self.QUEUE, json.dumps({"request_id": request_id, "body": body.decode()}))
        return _response(b"202 Accepted", json.dumps({"request_id": request_id, "status": "queued"}).encode())


def bwrap_python_argv(python: str, prefix: str, task_dir: Path, code: str) -> list[str]:
    argv = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr",
            "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--ro-bind", str(task_dir), "/var/task",
            "--clearenv"]
    if not prefix.startswith("/usr/"):
        argv += ["--ro-bind", prefix, prefix]
    return [*argv, python, "-I", "-S", "-c", code]


@contextlib.contextmanager
def importing_handler(python: str, handler_source: str) -> Iterator[list[str]]:
    """The command that starts ``python -I -S`` in bubblewrap and imports the handler, from a task
    folder that lasts as long as the block."""
    prefix = subprocess.run([python, "-I", "-S", "-c", "import sys; print(sys.base_prefix)"],
                            capture_output=True, text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as task:
        Path(task, "app.py").write_text(handler_source)
        os.chmod(task, 0o755)
        yield bwrap_python_argv(python, prefix, Path(task), "import sys; sys.path.insert(0, '/var/task'); import app")


def cold_floor_ms(python: str, handler_source: str, *, runs: int = 20) -> float:
    """Median time to start ``python -I -S`` in bubblewrap and import the handler."""
    with importing_handler(python, handler_source) as argv:
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(argv, check=True, env={})
            timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def private_mb(pid: int) -> float:
    """Private (unshared) memory of one process, from smaps_rollup."""
    total_kb = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            total_kb += int(line.split()[1])
    return total_kb / 1024


def idle_python_private_mb(python: str = sys.executable) -> float:
    process = subprocess.Popen([python, "-I", "-S", "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        time.sleep(0.5)
        return private_mb(process.pid)
    finally:
        process.communicate(b"")


def parallel_cold_floor_s(python: str, handler_source: str, *, count: int) -> float:
    """Seconds for ``count`` interpreters started at once in bubblewrap to import the handler."""
    with importing_handler(python, handler_source) as argv:
        started = time.perf_counter()
        processes = [subprocess.Popen(argv, env={}) for _ in range(count)]
        for process in processes:
            process.wait()
        return time.perf_counter() - started
