"""A whole platform of one fault test: its own data directory, Redis, executor, api, workers and
beat, on the session's PostgreSQL database, each process real and each one the test may break.

Functions run unsandboxed here (``LAMBENT_SANDBOX=none``): the checker reads what each run of
the function did outside of it (``SideEffects``), which a sandbox would rightly forbid. The
faults are of the processes around the sandboxes; isolation is tested elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.db import connection

from tests.conftest import b64, make_zip
from tests.processes import LAMBENT, Process, RedisServer, free_port, platform_env, wait_until

#: Timings shrunk so that leases, retries and the sweeper act within seconds.
FAULT_SETTINGS = {
    "LAMBENT_SANDBOX": "none",
    "LAMBENT_KEEP_ALIVE_SECONDS": "60",
    "LAMBENT_EXECUTOR_METRICS_BIND": "none",
    "LAMBENT_WORKER_METRICS_BIND": "none",
}

#: Appends a line when a run starts and when it ends: ``start|end <request id> <run> <time> <tag>``.
SIDE_EFFECT_FUNCTION = """\
import os, time, uuid

def handler(event, context):
    run = uuid.uuid4().hex
    def note(what):
        with open(os.environ["SIDE_EFFECTS"], "a") as log:
            log.write(f"{what} {context.aws_request_id} {run} {time.time():.6f} {event['tag']}\\n")
    note("start")
    time.sleep(event.get("sleep", 0.1))
    note("end")
    return {"tag": event["tag"]}
"""


class Stack:
    """The processes of one platform, started with ``start()``, stopped with ``stop()``."""

    def __init__(self, *, workers: int = 2, concurrency: int = 2) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="faults-", dir=settings.DATA_DIR))
        self.root.chmod(0o755)
        self.side_effects = self.root / "side-effects.log"
        self.side_effects.touch(mode=0o666)
        self.redis = RedisServer()
        self.env = platform_env(
            **FAULT_SETTINGS, LAMBENT_DATA_DIR=str(self.root), LAMBENT_REDIS_URL=self.redis.url,
            LAMBENT_SECRET_KEY=settings.SECRET_KEY, LAMBENT_MASTER_KEY=settings.MASTER_KEY,
            LAMBENT_CGROUP_PARENT=f"{settings.CGROUP_PARENT}-faults",
        )
        self.workers: list[Process | None] = [None] * workers
        self.concurrency = concurrency
        self.executor: Process | None = None
        self.beat: Process | None = None
        self.api: Process | None = None
        self.base = ""
        self.logs_written: list[Path] = []

    def start(self) -> Stack:
        self.redis.start()
        self.start_executor()
        port = free_port()
        self.api = self._spawn("api", env={**self.env, "LAMBENT_BIND": f"127.0.0.1:{port}"})
        self.base = f"http://127.0.0.1:{port}"
        wait_until(self._api_answers, timeout=30, what="the api to answer")
        for index in range(len(self.workers)):
            self.start_worker(index)
        self.start_beat()
        return self

    def _api_answers(self) -> bool:
        assert self.api is not None
        if self.api.popen.poll() is not None:
            raise AssertionError(f"the api exited:\n{self.api.output()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{self.base}/healthz", timeout=2):
                return True
        except OSError:
            return False

    def _spawn(self, command: str, *args: str, env: dict[str, str] | None = None) -> Process:
        process = Process(command, [LAMBENT, command, *args], env=env or self.env)
        self.logs_written.append(process.log_path)
        return process

    def start_executor(self) -> None:
        socket_path = self.root / "executor.sock"
        socket_path.unlink(missing_ok=True)
        self.executor = self._spawn("executor")
        wait_until(socket_path.exists, timeout=30, what="the executor's socket")

    def start_worker(self, index: int) -> None:
        worker = self._spawn("worker", f"--concurrency={self.concurrency}")
        worker.wait_for(" ready.", timeout=60)
        self.workers[index] = worker

    def start_beat(self) -> None:
        self.beat = self._spawn("beat")
        self.beat.wait_for("beat: Starting", timeout=30)

    def processes(self) -> list[Process]:
        return [process for process in (self.beat, *self.workers, self.api, self.executor) if process is not None]

    def stop(self) -> None:
        """Stop everything; with ``LAMBENT_TEST_KEEP_FAULT_LOGS=DIR`` the processes' logs are kept there."""
        for process in self.processes():
            process.stop()
        self.redis.stop()
        keep = os.environ.get("LAMBENT_TEST_KEEP_FAULT_LOGS")
        if keep:
            target = Path(keep) / self.root.name
            target.mkdir(parents=True, exist_ok=True)
            for log in self.logs_written:
                shutil.copy(log, target / log.name)
        shutil.rmtree(self.root, ignore_errors=True)

    def logs(self) -> str:
        """The tail of every process's output, for a failed test's report."""
        return "\n".join(f"--- {process.name} ---\n{process.output()[-3000:]}" for process in self.processes())

    def slots_held(self, *, within: float = 2.0) -> int:
        """Concurrency slots still held in this platform's Redis, whatever their pool, once ``within``
        seconds passed without all of them given back (a release follows its attempt's end)."""
        client = redis.Redis.from_url(self.redis.url)
        deadline = time.monotonic() + within
        try:
            while True:
                now_ms = int(time.time() * 1000)
                held = sum(int(client.zcount(key, now_ms, "+inf")) for key in client.scan_iter("lambent:concurrency:*"))
                if not held or time.monotonic() > deadline:
                    return held
                time.sleep(0.1)
        finally:
            client.close()

    # Requests, as a user sends them.

    def request(self, method: str, path: str, body: Any = None, *, key: str,
                timeout: float = 30) -> tuple[int, dict[str, Any]]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Authorization": f"Bearer {key}",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def create_function(self, name: str, *, key: str, timeout: int = 3) -> None:
        body = {"name": name, "runtime": "python3.11", "handler": "app.handler", "timeout": timeout,
                "zip_file": b64(make_zip({"app.py": SIDE_EFFECT_FUNCTION})),
                "environment": {"SIDE_EFFECTS": str(self.side_effects)}}
        status, answer = self.request("POST", "/api/v1/functions", body, key=key)
        assert status == 201, answer

    def create_queue(self, name: str, *, key: str) -> str:
        status, answer = self.request("POST", "/api/v1/queues", {"name": name}, key=key)
        assert status == 201, answer
        return str(answer["arn"])

    def send_records_to(self, function: str, *, on_success: str, on_failure: str, key: str) -> None:
        config = {"destination_config": {"on_success": {"destination": on_success},
                                         "on_failure": {"destination": on_failure}}}
        status, answer = self.request("PUT", f"/api/v1/functions/{function}/event-invoke-config", config, key=key)
        assert status == 200, answer


def kill_group(process: Process) -> None:
    """SIGKILL a platform process with every child it started (a worker's pool, an executor's sandboxes)."""
    process.kill_group()


@dataclass
class Blackhole:
    """Loopback packets to and from one TCP port dropped by nftables, as a partition that leaves
    every connection open and silent (a table of its own, removed by ``lift``)."""

    port: int
    table: str = ""

    def __post_init__(self) -> None:
        self.table = f"lambent_faults_{os.getpid()}_{self.port}"

    def drop(self) -> None:
        nft = shutil.which("nft")
        assert nft is not None, "nftables is missing (tools/system-packages installs it)"
        rules = (f"table inet {self.table} {{\n  chain out {{\n    type filter hook output priority 0;\n"
                 f"    tcp dport {self.port} drop\n    tcp sport {self.port} drop\n  }}\n}}\n")
        subprocess.run([nft, "-f", "-"], input=rules.encode(), check=True)

    def lift(self) -> None:
        nft = shutil.which("nft")
        if nft is not None:
            subprocess.run([nft, "delete", "table", "inet", self.table], check=False, capture_output=True)


def terminate_database_connections() -> int:
    """End every other session on the test database, as a PostgreSQL restart or failover would;
    how many were ended."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def pause(process: Process | RedisServer, seconds: float) -> None:
    process.signal(signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        process.signal(signal.SIGCONT)
