"""Fixtures shared by every test: tenants, authenticated API clients, code zips."""

from __future__ import annotations

import base64
import io
import os
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client, config
from rest_framework.test import APIClient

from lambent.iam import services as iam_services
from lambent.iam.services import NewTenant
from tests.k8s.node import Node
from tests.k8s.testbed import Testbed, Unavailable, binaries

HANDLER_SOURCE = "def handler(event, context):\n    return event\n"


def make_zip(files: dict[str, str | bytes] | None = None, *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in (files or {"app.py": HANDLER_SOURCE}).items():
            # A fixed timestamp keeps the same files the same archive, whenever the test builds it.
            entry = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, content, compression)
    return buffer.getvalue()


def lying_zip(*, real_bytes: int = 3_000_000, said_bytes: int = 1000) -> bytes:
    """A zip whose ``app.py`` inflates to ``real_bytes`` while both of its headers (the local one and
    the central directory's) say ``said_bytes``: the package of issue 12, small."""
    data = bytearray(make_zip({"app.py": "def handler(event, context):\n    return event\n" + "#" * real_bytes}))
    said = said_bytes.to_bytes(4, "little")
    local = data.index(b"PK\x03\x04")
    data[local + 22:local + 26] = said
    central = data.index(b"PK\x01\x02")
    data[central + 24:central + 28] = said
    return bytes(data)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def client_for(new_tenant: NewTenant) -> APIClient:
    client = APIClient()
    credentials = new_tenant.credentials
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {credentials.access_key_id}:{credentials.secret_access_key}")
    return client


@pytest.fixture
def make_tenant(db: None) -> Callable[[str], NewTenant]:
    return lambda name: iam_services.tenant_create(name=name)


@pytest.fixture
def tenant(make_tenant: Callable[[str], NewTenant]) -> NewTenant:
    return make_tenant("acme")


@pytest.fixture
def api(tenant: NewTenant) -> APIClient:
    return client_for(tenant)


def function_body(name: str = "hello", **overrides: Any) -> dict[str, Any]:
    """A JSON body that creates a valid function; ``overrides`` replace or add fields."""
    body: dict[str, Any] = {
        "name": name, "runtime": "python3.11", "handler": "app.handler", "zip_file": b64(make_zip()),
    }
    body.update(overrides)
    return body


@pytest.fixture
def create_function(api: APIClient) -> Callable[..., dict[str, Any]]:
    def create(name: str = "hello", **overrides: Any) -> dict[str, Any]:
        response = api.post("/api/v1/functions", function_body(name, **overrides), format="json")
        assert response.status_code == 201, response.content
        return response.json()

    return create


@pytest.fixture
def fake_executor(settings):
    """The API invokes through the in-memory executor (Python handlers in this process)."""
    from worker import executors

    settings.EXECUTOR = "worker.executors.fake.FakeExecutor"
    executors.executor.cache_clear()
    yield executors.executor()
    executors.executor.cache_clear()


@pytest.fixture(scope="session")
def executor_process():
    """``lambent executor`` as a real process of this test session, with a short keep-alive."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    from django.conf import settings

    env = {**os.environ, "LAMBENT_KEEP_ALIVE_SECONDS": "2", "LAMBENT_TEST_MARKER": "host-secret-4711"}
    log_path = settings.DATA_DIR / "executor.log"  # a file: a pipe nobody reads would stall it once full
    with open(log_path, "wb") as log:
        process = subprocess.Popen([str(Path(sys.executable).parent / "lambent"), "executor"], env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while not settings.EXECUTOR_SOCKET.exists():
        assert process.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, "the executor did not start"
        time.sleep(0.05)
    yield process
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture
def real_executor(executor_process, settings):
    """The API invokes through the executor process: real sandboxes."""
    from worker import executors

    settings.EXECUTOR = "worker.executors.client.ExecutorClient"
    executors.executor.cache_clear()
    yield executor_process
    executors.executor.cache_clear()


@pytest.fixture(scope="module")
def async_platform(executor_process, django_db_setup, django_db_blocker):
    """A real ``lambent worker`` (two processes) and ``lambent beat`` on the session's database,
    Redis and executor, with the asynchronous timings shrunk to seconds (``tests.processes``).
    For one module at a time: a beat left running would sweep the invocations of the platforms
    that later tests start on the same database (the fault suite's) and send them to this worker."""
    from tests import processes

    metrics_port = processes.free_port()
    with django_db_blocker.unblock():
        env = processes.platform_env(LAMBENT_WORKER_METRICS_BIND=f"127.0.0.1:{metrics_port}")
    worker = processes.start_worker(env)
    beat = processes.start_beat(env)
    yield {"worker": worker, "beat": beat, "env": env, "metrics": f"http://127.0.0.1:{metrics_port}/metrics"}
    beat.stop()
    worker.stop()


@pytest.fixture(autouse=True)
def _no_kept_slots() -> Any:
    """The slots this process kept after a test's invocations are given back before the next test."""
    yield
    from lambent.quotas import slots

    if slots.keeper.held():
        import asyncio

        asyncio.run(slots.keeper.give_back_idle())


# --- the Kubernetes test bed ------------------------------------------------------------------
# Started once per session, the first time a test asks for it, and stopped after the last: the
# control plane for every test of it, the node (containerd and a kubelet) the first time a test
# asks for that. Where the machine cannot host it (not root, not Debian) the tests are skipped,
# saying why, unless LAMBENT_TEST_REQUIRE_SANDBOX asks for every test that needs root; anywhere
# else a test bed that does not start fails them.

@pytest.fixture(scope="session")
def testbed() -> Iterator[Testbed]:
    try:
        bin_dir = binaries()
    except Unavailable as reason:
        if os.environ.get("LAMBENT_TEST_REQUIRE_SANDBOX"):
            pytest.fail(f"the Kubernetes test bed is required but cannot run: {reason}")
        pytest.skip(str(reason))
    testbed = Testbed(bin_dir=bin_dir).start()
    try:
        yield testbed
    finally:
        testbed.stop()


@pytest.fixture(scope="session")
def node(testbed: Testbed) -> Node:
    return testbed.start_node()


@pytest.fixture(scope="session")
def api_client(testbed: Testbed) -> Iterator[client.ApiClient]:
    with config.new_client_from_config(config_file=str(testbed.kubeconfig)) as api_client:
        yield api_client


@pytest.fixture(scope="session")
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)
