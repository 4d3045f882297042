"""The single-host install, run: docker-compose.yml brought up on this machine, used, and taken down.

Docker Compose v2 drives a podman of the test's own (``tests.compose.engine``) under a project
name of its own, the API published on a free 127.0.0.1 port, the secrets in the ``.env`` the
README's recipe writes. Every service must become healthy (``up --wait``); then a tenant is
created with ``lambent tenant create`` in the api's container, and through the API a function is
created, invoked synchronously (in a real sandbox of the executor's container: the function sees
the sandbox's uid 1000, not root; one over its memory size is killed as out of memory) and
asynchronously (the worker runs it; the ledger says so).
The README's backup holds the function and its code; ``up`` again, as an upgrade runs it, brings
every service back healthy with the function still there. ``down -v`` must leave no container,
volume or network of the project, nor a sandbox's cgroup.

The images: PostgreSQL and Redis from ``tools/compose/build`` (Debian's packages, cached), the
platform's of this checkout from ``make images``. Each step's time is printed. It runs
where podman can (root on Debian or Ubuntu) and is skipped, saying why, anywhere else; on such a
machine nothing missing is a reason to skip: it fails.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
import requests

from tests.compose.engine import ROOT, Stack, podman
from tests.processes import free_port, wait_until

pytestmark = pytest.mark.containers

PLATFORM_IMAGE = "localhost/lambent/platform:0.1.0"
HANDLER = '''import os


def handler(event, context):
    return {"message": os.environ.get("GREETING", "hello") + ", " + event.get("name", "world"), "uid": os.getuid()}


def hog(event, context):
    chunks = []
    while True:
        chunks.append(bytearray(16 * 1024 * 1024))
'''


def _host_unsupported() -> str | None:
    if os.geteuid() != 0:
        return "running the compose install needs root (podman's storage, the executor's cgroups)"
    if not Path("/etc/debian_version").exists():
        return "the compose test builds its images from Debian's packages: Debian or Ubuntu only"
    return None


def _images() -> dict[str, str]:
    """The images the stack runs, their names by variable: PostgreSQL's and Redis's (built once per
    machine), and the platform's of this checkout (``make images``, whose layer cache makes a
    rebuild of what did not change quick)."""
    built = subprocess.run([str(ROOT / "tools" / "compose" / "build")], capture_output=True, text=True, timeout=1800)
    assert built.returncode == 0, built.stderr[-5000:]
    postgres, redis = built.stdout.split()
    made = subprocess.run(["make", "--silent", "images"], cwd=ROOT, capture_output=True, text=True, timeout=3600)
    assert made.returncode == 0, f"`make images` failed:\n{made.stdout[-3000:]}\n{made.stderr[-5000:]}"
    assert PLATFORM_IMAGE in made.stdout, made.stdout
    return {"LAMBENT_POSTGRES_IMAGE": postgres, "LAMBENT_REDIS_IMAGE": redis, "LAMBENT_IMAGE": PLATFORM_IMAGE}


def _secrets_as_the_readme_makes_them(folder: Path) -> Path:
    """The ``.env`` the README's first block of "Install on one host with compose" writes, in ``folder``."""
    section = (ROOT / "README.md").read_text().split("\n## Install on one host with compose\n", 1)[1]
    block = re.findall(r"```sh\n(.*?)```", section.split("\n## ", 1)[0], flags=re.DOTALL)[0]
    subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=folder, check=True, timeout=60)
    assert (folder / ".env").stat().st_mode & 0o077 == 0, "the README's .env is readable by others"
    return folder / ".env"


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def test_the_compose_install_comes_up_runs_functions_and_goes_away() -> None:
    unsupported = _host_unsupported()
    if unsupported:
        if os.environ.get("LAMBENT_TEST_REQUIRE_SANDBOX"):  # CI: this machine must run every check
            pytest.fail(f"the compose install cannot be brought up here: {unsupported}")
        pytest.skip(unsupported)
    timings: dict[str, float] = {}
    started = time.monotonic()
    images = _images()
    timings["images"] = time.monotonic() - started
    port = free_port()
    project = f"lambent-test-{os.getpid()}"
    variables = {
        **images,
        "LAMBENT_API_PORT": str(port),
        # Sandbox uids apart from `make dev`'s and the test sessions' (tests/environment.py).
        "LAMBENT_SANDBOX_UID_BASE": str(500_000_000 + os.getpid() % 1024 * 65536),
    }
    with podman(project) as engine:
        stack = Stack(engine=engine, variables=variables, env_file=_secrets_as_the_readme_makes_them(engine.folder))
        try:
            begun = time.monotonic()
            stack.compose("up", "-d", "--wait", "--wait-timeout", "300", "--no-build", "--pull", "never")
            timings["up --wait"] = time.monotonic() - begun
            _every_service_is_healthy(stack)
            begun = time.monotonic()
            session = _use(stack, port=port)
            timings["use"] = time.monotonic() - begun
            _backs_up(stack)
            # As an upgrade does (README): up again, migrate first, and what was there still runs.
            begun = time.monotonic()
            stack.compose("up", "-d", "--wait", "--wait-timeout", "300", "--no-build", "--pull", "never")
            timings["up again"] = time.monotonic() - begun
            _every_service_is_healthy(stack)
            response = session.post(f"http://127.0.0.1:{port}/api/v1/functions/hello/invoke", data="{}", timeout=120)
            assert response.status_code == 200 and response.json()["message"] == "hi, world", response.text
        finally:
            begun = time.monotonic()
            stack.compose("down", "-v", "--remove-orphans", "--timeout", "30", check=False)
            timings["down -v"] = time.monotonic() - begun
            left = stack.leftovers()
        assert not left, f"down -v left {left}"
    # The executor's sandboxes were cgroups of the host: it removes them, and their parent, as it stops.
    assert not list(Path("/sys/fs/cgroup").glob(f"*/lambent-compose-{project}")), "sandbox cgroups were left"
    timings["total"] = time.monotonic() - started
    print("compose install:", ", ".join(f"{step} {seconds:.1f} s" for step, seconds in timings.items()))


def _every_service_is_healthy(stack: Stack) -> None:
    listed = stack.compose("ps", "--all", "--format", "json").stdout
    rows = [json.loads(line) for line in listed.splitlines() if line.strip()]
    if len(rows) == 1 and isinstance(rows[0], list):  # older compose versions print one array
        rows = rows[0]
    states = {row["Service"]: (row["State"], row.get("Health", ""), row.get("ExitCode")) for row in rows}
    assert states.pop("migrate")[::2] == ("exited", 0), states
    assert states == {name: ("running", "healthy", 0) for name in ("postgres", "redis", "executor", "api", "worker",
                                                                    "beat")}, states


def _use(stack: Stack, *, port: int) -> requests.Session:
    """The first tenant, a function invoked both ways; the session of the tenant's key."""
    created = stack.compose("exec", "-T", "api", "lambent", "tenant", "create", "acme", "--json").stdout
    key = json.loads(created)
    api = f"http://127.0.0.1:{port}/api/v1"
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key['access_key_id']}:{key['secret_access_key']}"

    response = session.post(f"{api}/functions", timeout=60, files={"zip_file": ("hello.zip", _zip(HANDLER))},
                            data={"name": "hello", "runtime": "python3.11", "handler": "app.handler",
                                  "environment.GREETING": "hi"})
    assert response.status_code == 201, response.text

    response = session.post(f"{api}/functions/hello/invoke", data=json.dumps({"name": "compose"}), timeout=120)
    assert response.status_code == 200, response.text + stack.logs()
    # uid 1000 is the sandbox's own (bubblewrap's user namespace): the function ran sandboxed.
    assert response.json() == {"message": "hi, compose", "uid": 1000}
    synchronous = response.headers["X-Lambent-Request-Id"]

    def recorded() -> dict[str, object] | None:  # written just after the response
        found = session.get(f"{api}/invocations/{synchronous}", timeout=30)
        return found.json() if found.status_code == 200 else None

    # The api read it from the sandbox's memory cgroup, which an unsandboxed run has not.
    assert wait_until(recorded, timeout=30, what="the ledger entry")["max_memory_used_mb"] > 0

    # The sandbox's memory is its function's memory size: the cgroup of the host holds it there.
    response = session.post(f"{api}/functions", timeout=60, files={"zip_file": ("hog.zip", _zip(HANDLER))},
                            data={"name": "hog", "runtime": "python3.11", "handler": "app.hog", "memory_size": "128"})
    assert response.status_code == 201, response.text
    response = session.post(f"{api}/functions/hog/invoke", data="{}", timeout=120)
    assert response.headers.get("X-Lambent-Function-Error") == "Unhandled", response.text
    assert response.json()["errorType"] == "Runtime.OutOfMemory", response.text

    response = session.post(f"{api}/functions/hello/invoke?type=event", data=json.dumps({"name": "later"}),
                            timeout=60)
    assert response.status_code == 202, response.text
    request_id = response.json()["request_id"]

    def finished() -> dict[str, object] | None:
        invocation = session.get(f"{api}/invocations/{request_id}", timeout=30).json()
        return invocation if invocation["status"] not in ("queued", "running", "retrying") else None

    invocation = wait_until(finished, timeout=120, interval=0.5, what="the worker to run the asynchronous invocation")
    assert invocation["status"] == "succeeded", f"{invocation}\n{stack.logs()}"
    assert [attempt["outcome"] for attempt in invocation["attempts"]] == ["succeeded"]
    # Read from the sandbox's memory cgroup, which an unsandboxed run has not.
    assert invocation["attempts"][0]["max_memory_used_mb"] > 0, invocation
    return session


def _backs_up(stack: Stack) -> None:
    """What the README's backup takes holds the tenant's function and its code."""
    dump = stack.compose("exec", "-T", "postgres", "pg_dump", "-U", "lambent", "lambent").stdout
    assert "CREATE TABLE public.functions_function" in dump and "hello" in dump
    listing = stack.compose("exec", "-T", "api", "sh", "-c", "tar -C /srv/lambent -cf - code | tar -tf -").stdout
    assert [name for name in listing.split() if not name.endswith("/")], listing
