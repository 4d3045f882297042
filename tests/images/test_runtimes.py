"""Each runtime image's agent starts as a Kubernetes sandbox pod runs it (read-only root, writable
/tmp and /var/task, no capabilities, its own uid) and does a sandbox's work: the test, standing in
for the platform, attaches with the key, specializes it with a zip it serves, inits and invokes."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Iterator

import pytest

from runtimes.agent import protocol
from tests.images import podman
from tests.images.podman import RUNTIMES
from tests.processes import free_port
from tests.runtimes.frames import attach, init_frame, invoke_frame
from tests.runtimes.packages import PackageServer, zip_of

pytestmark = pytest.mark.containers

APP = """
import os, sys

def handler(event, context):
    return {"echo": event, "uid": os.getuid(), "cwd": os.getcwd(), "python": list(sys.version_info[:2])}
"""
#: The uid and gid of everything in a sandbox pod (worker.executors.kubernetes.objects.SANDBOX_UID).
SANDBOX = 65532


@pytest.fixture
def server() -> Iterator[PackageServer]:
    server = PackageServer()
    yield server
    server.close()


@pytest.mark.parametrize("version", sorted(RUNTIMES))
def test_the_agent_starts_and_runs_a_function(built: dict[str, str], server: PackageServer, version: str) -> None:
    port, key = free_port(), secrets.token_urlsafe(32)
    options = ("--read-only", "--cap-drop=ALL", "--security-opt=no-new-privileges", "--memory=128m",
               "--tmpfs=/tmp:rw,size=64m", "--tmpfs=/var/task:rw,size=64m,U")
    started = time.monotonic()
    container = podman.start(RUNTIMES[version], "--listen", f"tcp:127.0.0.1:{port}", "--runtime-api", "127.0.0.1:0",
                             env={"LAMBENT_AGENT_KEY_SHA256": hashlib.sha256(key.encode()).hexdigest()},
                             options=options)
    try:
        with attach(port, key, waiting=container.check_running) as platform:
            ready, _ = protocol.receive(platform)
            assert ready["op"] == "ready"
            answered = time.monotonic()
            protocol.send(platform, {"op": "specialize", "code": server.publish(zip_of({"app.py": APP}))})
            assert protocol.receive(platform)[0] == {"op": "specialized"}
            protocol.send(platform, init_frame(f"python{version}"))
            header, body = invoke_frame({"n": 1})
            protocol.send(platform, header, body)
            result, answer = protocol.receive(platform)
            assert result["status"] == "success", (result, answer, container.logs())
            python = [int(part) for part in version.split(".")]
            assert json.loads(answer) == {"echo": {"n": 1}, "uid": SANDBOX, "cwd": "/var/task", "python": python}
        print(f"python{version}: the agent answered {answered - started:.2f} s after podman run")
        # The platform left: the agent ends, and the container with it.
        podman.wait_for(lambda: not container.running(), timeout=30, what="the agent to end once the platform left")
    finally:
        container.remove()
