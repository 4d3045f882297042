"""The platform image runs every process: each one's ``--help``, then migrate, api, worker, beat and
executor started for real against this machine's PostgreSQL and Redis, each judged healthy by the
image's own HEALTHCHECK and by what it answers, and a function invoked through an api container
into a bubblewrap sandbox of the executor's container."""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.images import podman
from tests.images.podman import PLATFORM, Container
from tests.processes import free_port
from tests.runtimes.packages import zip_of

pytestmark = pytest.mark.containers

PROCESSES = ("api", "worker", "beat", "executor", "migrate")
#: The uid and gid the image runs as (its USER).
LAMBENT = 10001


APP = """
import os, sys

def handler(event, context):
    return {"echo": event, "uid": os.getuid(), "python": list(sys.version_info[:2])}
"""


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except OSError:
        return 0, b""


def post(url: str, body: object, *, key: str) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(json.loads(response.read()))


def test_lambent_help_lists_every_process(built: dict[str, str]) -> None:
    result = podman.run(PLATFORM, "--help", network="none")
    assert result.returncode == 0, result.stderr
    listed = {line.strip() for line in result.stdout.splitlines()}
    assert set(PROCESSES) <= listed


@pytest.mark.parametrize("process", PROCESSES)
def test_each_process_answers_help(built: dict[str, str], process: str) -> None:
    result = podman.run(PLATFORM, process, "--help", network="none")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: lambent {process}")


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    """The data directory the processes share (a volume at /var/lib/lambent in production)."""
    path = Path(tempfile.mkdtemp(prefix="lambent-images-"))
    path.chmod(0o755)
    subprocess.run(["chown", f"{LAMBENT}:{LAMBENT}", str(path)], check=True)
    yield path
    shutil.rmtree(path)


@pytest.fixture(scope="module")
def environment(built: dict[str, str], database_url: str, redis_url: str) -> dict[str, str]:
    """A production installation, on ports of its own (the host's network is shared)."""
    return {"LAMBENT_ENV": "production", "LAMBENT_SECRET_KEY": secrets.token_urlsafe(48),
            "LAMBENT_MASTER_KEY": secrets.token_urlsafe(32), "LAMBENT_DATABASE_URL": database_url,
            "LAMBENT_REDIS_URL": redis_url, "LAMBENT_BIND": f"127.0.0.1:{free_port()}",
            "LAMBENT_WORKER_METRICS_BIND": f"127.0.0.1:{free_port()}",
            "LAMBENT_EXECUTOR_METRICS_BIND": f"127.0.0.1:{free_port()}",
            # A privileged executor works in the host's cgroups and uids: a parent and a range of its own,
            # apart from any other installation's (each reaps what it finds under its parent) and the session's.
            "LAMBENT_CGROUP_PARENT": f"lambent-images-test-{os.getpid()}",
            "LAMBENT_SANDBOX_UID_BASE": str(1_000_000 + (os.getpid() + 1024) % 2048 * 65536)}


@pytest.fixture(scope="module")
def platform(environment: dict[str, str], data_dir: Path) -> Iterator[dict[str, Container]]:
    """Migrated first, then every long-running process started at once, each in a container of its own."""
    volume = (f"--volume={data_dir}:/var/lib/lambent",)
    migrated = podman.run(PLATFORM, "migrate", "--no-input", env=environment, options=volume, timeout=300)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    # The local executor isolates with bubblewrap and cgroups: root, in a privileged container.
    executor_options = (*volume, "--user=0", "--privileged")
    containers: dict[str, Container] = {}
    try:
        for process in ("api", "worker", "beat"):
            containers[process] = podman.start(PLATFORM, process, env=environment, options=volume)
        containers["executor"] = podman.start(PLATFORM, "executor", env=environment, options=executor_options)
        yield containers
    finally:
        for container in containers.values():
            container.remove()


def test_the_api_answers_healthz(platform: dict[str, Container], environment: dict[str, str]) -> None:
    url = f"http://{environment['LAMBENT_BIND']}/healthz"
    podman.wait_for(lambda: get(url)[0] == 200, timeout=90, what="the api's /healthz", container=platform["api"])
    assert get(url) == (200, b'{"status": "ok"}')
    assert platform["api"].healthy()


def test_the_api_serves_the_console_and_its_browser_libraries(platform: dict[str, Container],
                                                              environment: dict[str, str]) -> None:
    base = f"http://{environment['LAMBENT_BIND']}"
    podman.wait_for(lambda: get(f"{base}/healthz")[0] == 200, timeout=90, what="the api", container=platform["api"])
    status, page = get(f"{base}/console/sign-in")
    assert status == 200 and b'name="csrfmiddlewaretoken"' in page
    for path, start in (("htmx/htmx.min.js", b"var htmx"), ("codemirror/lib/codemirror.js", b"// CodeMirror")):
        status, body = get(f"{base}/static/console/vendor/{path}")
        assert status == 200 and body.lstrip().startswith(start), (path, body[:80])


def test_the_worker_answers_a_ping_through_the_broker(platform: dict[str, Container]) -> None:
    podman.wait_for(platform["worker"].healthy, timeout=90, what="the worker to answer a ping",
                    container=platform["worker"])
    assert "ready" in platform["worker"].logs()


def test_beat_starts_and_reaches_the_broker(platform: dict[str, Container]) -> None:
    podman.wait_for(lambda: "beat: Starting" in platform["beat"].logs(), timeout=90, what="beat to start",
                    container=platform["beat"])
    assert platform["beat"].healthy()


def test_the_executor_answers_on_its_socket_and_its_metrics(platform: dict[str, Container],
                                                             environment: dict[str, str], data_dir: Path) -> None:
    podman.wait_for(platform["executor"].healthy, timeout=90, what="the executor's socket",
                    container=platform["executor"])
    assert (data_dir / "executor.sock").is_socket()
    status, body = get(f"http://{environment['LAMBENT_EXECUTOR_METRICS_BIND']}/metrics")
    assert status == 200 and b"lambent_" in body
    assert "executor listening on /var/lib/lambent/executor.sock" in platform["executor"].logs()


@pytest.fixture(scope="module")
def root_api(platform: dict[str, Container], environment: dict[str, str],
             data_dir: Path) -> Iterator[tuple[Container, str]]:
    """An api process as the executor's user, the one its socket is open to."""
    bind = f"127.0.0.1:{free_port()}"
    container = podman.start(PLATFORM, "api", env={**environment, "LAMBENT_BIND": bind},
                             options=(f"--volume={data_dir}:/var/lib/lambent", "--user=0"))
    yield container, bind
    container.remove()


def test_a_function_runs_in_a_sandbox_of_the_executor(platform: dict[str, Container],
                                                       root_api: tuple[Container, str]) -> None:
    api, bind = root_api
    podman.wait_for(lambda: get(f"http://{bind}/healthz")[0] == 200, timeout=90, what="the api's /healthz",
                    container=api)
    podman.wait_for(platform["executor"].healthy, timeout=90, what="the executor's socket",
                    container=platform["executor"])
    tenant = json.loads(podman.podman("exec", api.name, "lambent", "tenant", "create", "images", "--json").stdout)
    key = f"{tenant['access_key_id']}:{tenant['secret_access_key']}"
    code = base64.b64encode(zip_of({"app.py": APP})).decode()
    post(f"http://{bind}/api/v1/functions", {"name": "hello", "runtime": "python3.11", "handler": "app.handler",
                                              "zip_file": code}, key=key)
    answer = post(f"http://{bind}/api/v1/functions/hello/invoke", {"n": 1}, key=key)
    # The sandbox's own user namespace shows uid 1000 (worker.executors.local.sandbox).
    assert answer == {"echo": {"n": 1}, "uid": 1000, "python": [3, 11]}
