"""The test bed's daemons as child processes, and what it takes to leave nothing of them behind.

Each daemon runs in a session of its own with its output in a log file of the test bed's folder,
so a failure can show why and a stop reaches every child it started.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path


class TestbedError(RuntimeError):
    """A part of the test bed did not start or stop as it should."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], object], *, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TestbedError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def http_ok(url: str, *, context: ssl.SSLContext | None = None, token: str | None = None) -> bool:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=2, context=context) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.HTTPError):
        return False


class Daemon:
    """One long-running binary of the test bed."""

    def __init__(self, name: str, args: list[str], *, log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          env=env, start_new_session=True)

    def output(self, *, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:]

    def wait_ready(self, ready: Callable[[], bool], *, timeout: float) -> None:
        def check() -> bool:
            if self.popen.poll() is not None:
                raise TestbedError(f"{self.name} exited with {self.popen.returncode}:\n{self.output()}")
            return ready()
        wait_until(check, timeout=timeout, what=f"{self.name} to be ready (log: {self.log_path})")

    def stop(self, *, timeout: float = 15) -> None:
        """SIGTERM, then SIGKILL to the whole session once ``timeout`` has passed (at once with 0)."""
        if self.popen.poll() is None and timeout > 0:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(timeout=10)


def mounts_under(root: Path) -> list[str]:
    """Mount points at or below ``root``, deepest first (the order to unmount them in)."""
    prefix = str(root)
    points = []
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                points.append(point)
    return sorted(points, key=lambda point: point.count("/"), reverse=True)


def unmount_all(root: Path) -> None:
    for point in mounts_under(root):
        subprocess.run(["umount", "--lazy", point], check=False, capture_output=True)
    left = mounts_under(root)
    if left:
        raise TestbedError(f"still mounted under {root}: {left}")


def pids_with_argument(argument: str) -> list[int]:
    """Processes that have ``argument`` among their command-line arguments."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argument.encode() in args:
            found.append(int(entry.name))
    return found


def kill_pids(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_until(lambda: not any(Path(f"/proc/{pid}").exists() and not _zombie(pid) for pid in pids),
               timeout=10, what=f"processes {pids} to end")


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
