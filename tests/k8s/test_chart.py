"""The Helm chart installed on the test bed's real kubelet: ``helm install --wait`` runs the
migrations and brings up the chart's own api, worker, beat and executor pods from the project's
images; ``helm test`` creates a tenant and a function and invokes it in a sandbox pod the executor
made; ``helm upgrade`` with a changed setting rolls the pods and passes the test again; ``helm
uninstall`` leaves nothing of the release: no pod, no tenant namespace, no Lease, no cluster role.

The images are the ones ``make images`` builds from this tree (podman's ``localhost/lambent/...``),
exported with ``podman save`` and imported into the node's containerd. The test bed has no pod
network: the chart's ``testbed`` values put every pod on the node's network, each process on a
127.0.0.1 port found free; code is kept in the database (the chart's default), as the pods share
no file system.
PostgreSQL and Redis are this machine's (127.0.0.1:5432, user postgres; 127.0.0.1:6379): a database
``chart`` of the test's own, made afresh, and Redis database 12, emptied before and after.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from kubernetes import client

from tests.charts.tools import CHART, helm_binary, helm_env
from tests.k8s.node import Node
from tests.k8s.processes import free_port, wait_until
from tests.k8s.testbed import Testbed

pytestmark = [pytest.mark.k8s, pytest.mark.containers]

ROOT = Path(__file__).resolve().parents[2]
RELEASE = "chart"
DATABASE = "chart"
POSTGRES = "postgresql://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/12"
#: The chart's default images, as ``make images`` names them.
CHART_VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
RUNTIME_IMAGES = [f"{image['repository']}:{image['tag']}" for image in CHART_VALUES["sandboxes"]["images"].values()]
APP_VERSION = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
PLATFORM_IMAGE = f"{CHART_VALUES['image']['repository']}:{APP_VERSION}"


@pytest.fixture(scope="module")
def images(node: Node, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The platform and runtime images as ``make images`` builds them from this tree (podman's
    layer cache makes a second build quick), from podman into the node's containerd."""
    built = subprocess.run(["make", "--silent", "images"], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert built.returncode == 0, f"make images exited {built.returncode}:\n{built.stderr[-4000:]}"
    folder = tmp_path_factory.mktemp("images")
    for name in (PLATFORM_IMAGE, *RUNTIME_IMAGES):
        archive = folder / (name.replace("/", "_").replace(":", "_") + ".tar")
        subprocess.run(["podman", "save", "--format", "docker-archive", "--output", str(archive), name],
                       check=True, capture_output=True, timeout=300)
        node.ctr("images", "import", str(archive))
        archive.unlink()


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """The database ``chart``, made afresh, and Redis database 12, emptied; both left as found."""
    import psycopg

    def recreate(*, create: bool) -> None:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
            if create:
                connection.execute(f"CREATE DATABASE {DATABASE}")

    recreate(create=True)
    redis.Redis.from_url(REDIS_URL).flushdb()
    try:
        yield f"{POSTGRES}/{DATABASE}"
    finally:
        redis.Redis.from_url(REDIS_URL).flushdb()
        recreate(create=False)


@pytest.fixture(scope="module")
def release_namespace(api_client: client.ApiClient) -> Iterator[str]:
    """The release's namespace, of its own, deleted after the test."""
    core = client.CoreV1Api(api_client)
    namespace = f"chart-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": namespace}})
    try:
        yield namespace
    finally:
        core.delete_namespace(namespace)
        wait_until(lambda: not core.list_namespace(field_selector=f"metadata.name={namespace}").items,
                   timeout=120, what=f"the namespace {namespace} to go")


def pod_logs(namespace: str) -> str:
    """The tail of each container's log of the pods of namespaces starting with ``namespace``, as the
    kubelet keeps them (``kubectl logs`` cannot reach the test bed's node, which has no address)."""
    return "\n".join(f"--- {path.parent.parent.name}/{path.parent.name}\n{path.read_text(errors='replace')[-2000:]}"
                     for path in sorted(Path("/var/log/pods").glob(f"{namespace}*/*/*.log")))


class Helm:
    """helm against the test bed, in the chart's folder; a failure shows the pods' logs."""

    def __init__(self, testbed: Testbed, home: Path, *, namespace: str) -> None:
        self.binary = str(helm_binary())
        self.env = helm_env(home, KUBECONFIG=str(testbed.kubeconfig))
        self.namespace = namespace

    def __call__(self, *args: str, timeout: float = 600) -> str:
        ran = subprocess.run([self.binary, *args], cwd=CHART, env=self.env, capture_output=True, text=True,
                             timeout=timeout)
        assert ran.returncode == 0, (f"helm {' '.join(args[:2])} failed:\n{ran.stdout[-3000:]}\n{ran.stderr[-3000:]}\n"
                                     f"{pod_logs(self.namespace)}")
        return ran.stdout


def values(*, testbed: Testbed, namespace: str, database_url: str) -> list[str]:
    """The ``--set`` values of this test bed: its API server, free ports, the database."""
    sets = {
        "testbed.apiServer": f"127.0.0.1:{testbed.control_plane.port}", "testbed.hostPorts": "32100-32199",
        "api.port": free_port(), "worker.metricsPort": free_port(), "executor.port": free_port(),
        "executor.codePort": free_port(), "executor.metricsPort": free_port(),
        "secrets.databaseUrl": database_url, "secrets.redisUrl": REDIS_URL,
        "sandboxes.installation": namespace,
    }
    return ["-f", "ci/testbed-values.yaml",
            *[arg for key, value in sets.items() for arg in ("--set", f"{key}={value}")]]


def platform_pods(core: client.CoreV1Api, namespace: str) -> list[Any]:
    return list(core.list_namespaced_pod(namespace, label_selector=f"app.kubernetes.io/instance={RELEASE}").items)


def test_the_chart_installs_passes_its_test_upgrades_and_uninstalls_without_a_trace(
        testbed: Testbed, images: None, database: str, release_namespace: str, api_client: client.ApiClient,
        tmp_path: Path) -> None:
    namespace = release_namespace
    core = client.CoreV1Api(api_client)
    helm = Helm(testbed, tmp_path, namespace=namespace)
    given = values(testbed=testbed, namespace=namespace, database_url=database)
    installed = False
    try:
        helm("install", RELEASE, ".", "--namespace", namespace, "--wait", "--timeout", "6m", *given)
        installed = True
        components = {pod.metadata.labels["app.kubernetes.io/component"] for pod in platform_pods(core, namespace)
                      if pod.status.phase == "Running"}
        assert components == {"api", "worker", "beat", "executor"}
        # The pod's log cannot be read through the API server here (the node has no address): its
        # phase says it passed, and the invocation left its tenant's namespace and sandbox pod.
        assert re.search(r"Phase:\s+Succeeded", helm("test", RELEASE, "--namespace", namespace, "--timeout", "5m"))
        tenants = core.list_namespace(label_selector=f"lambent.dev/installation={namespace}").items
        assert len(tenants) == 1  # the test's tenant, where its function ran in a sandbox pod
        assert core.list_namespaced_pod(tenants[0].metadata.name).items

        before = {pod.metadata.name for pod in platform_pods(core, namespace)}
        helm("upgrade", RELEASE, ".", "--namespace", namespace, "--wait", "--timeout", "6m", *given,
             "--set", "settings.logLevel=DEBUG")
        settings = core.read_namespaced_config_map(f"{RELEASE}-lambent", namespace).data
        assert settings["LAMBENT_LOG_LEVEL"] == "DEBUG"
        after = {pod.metadata.name for pod in platform_pods(core, namespace) if pod.status.phase == "Running"}
        assert after and not after & before  # every pod replaced: the settings' checksum changed
        assert re.search(r"Phase:\s+Succeeded", helm("test", RELEASE, "--namespace", namespace, "--timeout", "5m"))
    finally:
        if installed:
            helm("uninstall", RELEASE, "--namespace", namespace, "--wait", "--timeout", "5m")
    wait_until(lambda: not platform_pods(core, namespace), timeout=120, what="the release's pods to go")
    assert not core.list_namespace(label_selector=f"lambent.dev/installation={namespace}").items
    assert not core.list_pod_for_all_namespaces(label_selector=f"lambent.dev/installation={namespace}").items
    assert not client.CoordinationV1Api(api_client).list_namespaced_lease(namespace).items
    rbac = client.RbacAuthorizationV1Api(api_client)
    assert not [role for role in rbac.list_cluster_role().items if role.metadata.name.startswith(namespace)]
    assert not [binding for binding in rbac.list_cluster_role_binding().items
                if binding.metadata.name.startswith(namespace)]
    left = {kind: getattr(core, f"list_namespaced_{kind}")(namespace).items
            for kind in ("config_map", "secret", "service", "service_account")}
    assert not left["service"] and not [m for m in left["config_map"] if m.metadata.name.startswith(RELEASE)]
    assert not [s for s in left["secret"] if s.metadata.name.startswith(RELEASE)]
