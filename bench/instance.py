"""A throwaway Lambent for one benchmark run: its own data dir, api and executor processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from worker.executors.local.sandbox import remove_tree

LAMBENT = str(Path(sys.executable).parent / "lambent")


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
        self.env = {**clean, "LAMBENT_DATA_DIR": str(self.data_dir), "LAMBENT_BIND": f"127.0.0.1:{self.port}",
                    "LAMBENT_LOG_LEVEL": "WARNING"}
        self.processes: list[subprocess.Popen[bytes]] = []
        self.key = ""

    def __enter__(self) -> Platform:
        subprocess.run([LAMBENT, "migrate", "-v0"], env=self.env, check=True)
        created = json.loads(subprocess.run([LAMBENT, "tenant", "create", "bench", "--json"], env=self.env,
                                            check=True, capture_output=True, text=True).stdout)
        self.key = f"{created['access_key_id']}:{created['secret_access_key']}"
        for command in ("executor", "api"):
            log = open(self.data_dir / f"{command}.log", "wb")  # noqa: SIM115 - closed with the process
            self.processes.append(subprocess.Popen([LAMBENT, command], env=self.env, stdout=log, stderr=log))
        deadline = time.monotonic() + 60
        while not self._healthy() or not (self.data_dir / "executor.sock").exists():
            if time.monotonic() > deadline or any(process.poll() is not None for process in self.processes):
                logs = "".join((self.data_dir / f"{name}.log").read_text(errors="replace")[-3000:]
                               for name in ("executor", "api"))
                raise RuntimeError(f"the platform did not start:\n{logs}")
            time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=30)
        remove_tree(self.data_dir)  # never through a mount a sandbox left behind

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as response:
                return response.status == 200
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
