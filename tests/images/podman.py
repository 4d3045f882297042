"""The images' tests drive ``make images`` and podman (with the project's containers.conf).

The build runs once per session, as ``make images`` runs it; every test then reads or runs what it
built. Containers share the host's network (``--network host``): they reach this machine's
PostgreSQL and Redis on 127.0.0.1, and the tests reach them on free ports of 127.0.0.1, with no
bridge, forwarding or firewall rule made for them.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = ROOT / "tools" / "images" / "containers.conf"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
PLATFORM = f"localhost/lambent/platform:{VERSION}"
RUNTIMES = {"3.11": f"localhost/lambent/runtime-python3.11:{VERSION}",
            "3.13": f"localhost/lambent/runtime-python3.13:{VERSION}"}
IMAGES = [PLATFORM, *RUNTIMES.values()]


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, env=environment)
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {result.returncode}: {result.stderr}{result.stdout}")
    return result


def inspect(image: str) -> dict:
    return dict(json.loads(podman("image", "inspect", image).stdout)[0])


def build() -> tuple[dict[str, str], float]:
    """``make images`` (the Debian packages it needs, then the build): the name and size it printed of
    each image, and its time."""
    started = time.monotonic()
    result = subprocess.run(["make", "--silent", "images"], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, f"make images exited {result.returncode}:\n{result.stderr[-4000:]}"
    printed = [line.split(None, 1) for line in result.stdout.splitlines() if line.startswith("localhost/")]
    return dict(printed), elapsed


@dataclass
class Container:
    """A container started in the background, removed by ``remove``."""

    name: str

    def logs(self) -> str:
        result = podman("logs", self.name, check=False)
        return result.stdout + result.stderr

    def healthy(self) -> bool:
        """What the image's HEALTHCHECK says now (podman has no timer to run it by itself here)."""
        return podman("healthcheck", "run", self.name, check=False, timeout=60).returncode == 0

    def running(self) -> bool:
        state = podman("inspect", "--format", "{{.State.Running}}", self.name, check=False).stdout.strip()
        return state == "true"

    def check_running(self) -> None:
        assert self.running(), f"{self.name} stopped:\n{self.logs()}"

    def remove(self) -> None:
        podman("rm", "--force", "--time", "5", self.name, check=False)


def start(image: str, *args: str, options: tuple[str, ...] = (), env: dict[str, str] | None = None) -> Container:
    name = f"lambent-test-{uuid.uuid4().hex[:10]}"
    flags = [f"--env={key}={value}" for key, value in (env or {}).items()]
    podman("run", "--detach", f"--name={name}", "--network=host", *flags, *options, image, *args)
    return Container(name)


def run(image: str, *args: str, options: tuple[str, ...] = (), env: dict[str, str] | None = None,
        network: str = "host", timeout: float = 120) -> subprocess.CompletedProcess[str]:
    flags = [f"--env={key}={value}" for key, value in (env or {}).items()]
    return podman("run", "--rm", f"--network={network}", *flags, *options, image, *args, timeout=timeout,
                  check=False)


def wait_for(condition: Callable[[], object], *, timeout: float, what: str, container: Container | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline or (container is not None and not container.running()):
            logs = container.logs()[-3000:] if container is not None else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{logs}")
        time.sleep(0.5)
