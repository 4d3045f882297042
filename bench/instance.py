"""A throwaway Lambent for one benchmark run: its own data dir, embedded Redis, and the
processes of the ``Procfile`` (executor, api, worker, beat)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from celery import Celery

from lambent.embedded_redis import embedded_redis
from worker.executors.local.sandbox import remove_tree

LAMBENT = str(Path(sys.executable).parent / "lambent")
PROCESSES = ("executor", "api", "worker", "beat")
#: Tasks the platform's worker runs at once; the Celery floor's worker gets the same.
WORKER_CONCURRENCY = 2
START_TIMEOUT_S = 60
#: The Celery queue the platform's worker consumes (Celery's default).
PLATFORM_QUEUE = "celery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Platform:
    def __init__(self) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="lambent-bench-"))
        self.data_dir.chmod(0o711)
        self.port = _free_port()
        clean = {k: v for k, v in os.environ.items() if not k.startswith("LAMBENT_")}
        self.cgroup_parent = f"lambent-bench-{os.getpid()}"
        self.env = {**clean, "LAMBENT_DATA_DIR": str(self.data_dir), "LAMBENT_BIND": f"127.0.0.1:{self.port}",
                    "LAMBENT_LOG_LEVEL": "WARNING", "LAMBENT_WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
                    "LAMBENT_CGROUP_PARENT": self.cgroup_parent, "LAMBENT_EXECUTOR_METRICS_BIND": "none",
                    "LAMBENT_SANDBOX_UID_BASE": str(200_000_000 + os.getpid() % 2048 * 65536),
                    "LAMBENT_WORKER_METRICS_BIND": "none"}
        self.processes: list[subprocess.Popen[bytes]] = []
        self.key = ""
        self.redis_pid = 0
        self._redis = contextlib.ExitStack()

    @property
    def redis_socket(self) -> Path:
        """The embedded Redis every process of the platform derives from ``LAMBENT_DATA_DIR``."""
        return self.data_dir / "redis.sock"

    @property
    def database(self) -> Path:
        """The SQLite file of the embedded defaults."""
        return self.data_dir / "lambent.sqlite3"

    def __enter__(self) -> Platform:
        try:
            self._start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _start(self) -> None:
        subprocess.run([LAMBENT, "migrate", "-v0"], env=self.env, check=True)
        created = json.loads(subprocess.run([LAMBENT, "tenant", "create", "bench", "--json"], env=self.env,
                                            check=True, capture_output=True, text=True).stdout)
        self.key = f"{created['access_key_id']}:{created['secret_access_key']}"
        self.redis_pid = self._redis.enter_context(embedded_redis(self.redis_socket)).pid
        for command in PROCESSES:
            # The worker logs at INFO for its " ready." line (the Celery floor's worker does too).
            env = {**self.env, "LAMBENT_LOG_LEVEL": "INFO"} if command == "worker" else self.env
            log = open(self.data_dir / f"{command}.log", "wb")  # noqa: SIM115 - closed with the process
            self.processes.append(subprocess.Popen([LAMBENT, command], env=env, stdout=log, stderr=log))
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._ready():
            if time.monotonic() > deadline or any(process.poll() is not None for process in self.processes):
                logs = "".join(f"--- {name}.log\n" + self.log(name)[-3000:] for name in PROCESSES)
                raise RuntimeError(f"the platform did not start:\n{logs}")
            time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=30)
        self._redis.close()
        remove_tree(self.data_dir)  # never through a mount a sandbox left behind

    def pids(self) -> dict[str, int]:
        """The pid of each of the platform's processes, by name (executor, api, worker, beat)."""
        return {name: process.pid for name, process in zip(PROCESSES, self.processes, strict=True)}

    @contextlib.contextmanager
    def worker_paused(self) -> Iterator[None]:
        """The platform's worker takes no new message during the block (Celery's remote control
        ``cancel_consumer``, then ``add_consumer``): what is sent meanwhile waits in Redis."""
        node = [f"lambent-{self.processes[PROCESSES.index('worker')].pid}@{socket.gethostname()}"]
        with Celery("bench-control", broker=f"redis+socket://{self.redis_socket}") as app:
            self._expect_reply(app.control.cancel_consumer(PLATFORM_QUEUE, destination=node, reply=True, timeout=5))
            try:
                yield
            finally:
                self._expect_reply(app.control.add_consumer(PLATFORM_QUEUE, destination=node, reply=True, timeout=5))

    @staticmethod
    def _expect_reply(replies: list[dict[str, object]]) -> None:
        if len(replies) != 1:
            raise RuntimeError(f"the platform's worker did not answer a remote control command: {replies}")

    def log(self, name: str) -> str:
        path = self.data_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _ready(self) -> bool:
        return (self._healthy() and (self.data_dir / "executor.sock").exists()
                and " ready." in self.log("worker"))

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def call(self, method: str, path: str, body: dict[str, object] | None = None) -> tuple[int, dict[str, object]]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                         data=json.dumps(body or {}).encode(),
                                         headers={**self.headers, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")
