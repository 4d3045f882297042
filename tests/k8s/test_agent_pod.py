"""A sandbox pod on the real kubelet: the runtime image runs the agent on TCP, which the test attaches to,
specializes with a zip served from the test, inits and invokes, as the Kubernetes executor will."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Iterator

import pytest
from kubernetes import client

from runtimes.agent import protocol
from tests.k8s.node import RUNTIME_IMAGE, Node
from tests.k8s.processes import free_port, wait_until
from tests.runtimes.frames import attach, init_frame, invoke_frame
from tests.runtimes.packages import PackageServer, zip_of

pytestmark = pytest.mark.k8s

APP = """
import os

def handler(event, context):
    return {"echo": event, "uid": os.getuid(), "cwd": os.getcwd(), "key": "LAMBENT_AGENT_KEY_SHA256" in os.environ}
"""


def agent_pod(*, port: int, key_digest: str) -> client.V1Pod:
    """One sandbox: the agent as the container's command, as locked down as the restricted profile asks."""
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name="sandbox", labels={"app": "sandbox"}),
        spec=client.V1PodSpec(
            host_network=True, restart_policy="Never", automount_service_account_token=False,
            enable_service_links=False, termination_grace_period_seconds=2,
            security_context=client.V1PodSecurityContext(
                run_as_non_root=True, run_as_user=65532, run_as_group=65532,
                seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault")),
            containers=[client.V1Container(
                name="agent", image=RUNTIME_IMAGE, image_pull_policy="Never",
                command=["python3.11", "-I", "-S", "/var/runtime/agent/__main__.py",
                         "--listen", f"tcp:127.0.0.1:{port}", "--runtime-api", "127.0.0.1:0"],
                env=[client.V1EnvVar(name="LAMBENT_AGENT_KEY_SHA256", value=key_digest)],
                security_context=client.V1SecurityContext(
                    allow_privilege_escalation=False, read_only_root_filesystem=True,
                    capabilities=client.V1Capabilities(drop=["ALL"])),
                resources=client.V1ResourceRequirements(limits={"memory": "128Mi", "cpu": "500m"},
                                                        requests={"memory": "128Mi", "cpu": "500m"}),
                volume_mounts=[client.V1VolumeMount(name="tmp", mount_path="/tmp"),
                               client.V1VolumeMount(name="task", mount_path="/var/task")])],
            volumes=[client.V1Volume(name="tmp", empty_dir=client.V1EmptyDirVolumeSource(size_limit="64Mi")),
                     client.V1Volume(name="task", empty_dir=client.V1EmptyDirVolumeSource(size_limit="64Mi"))]))


@pytest.fixture
def server() -> Iterator[PackageServer]:
    server = PackageServer()
    yield server
    server.close()


def test_a_sandbox_pod_is_specialized_with_fetched_code_and_invoked(node: Node, core: client.CoreV1Api,
                                                                    namespace: str, server: PackageServer) -> None:
    port, key = free_port(), secrets.token_urlsafe(32)
    started = time.monotonic()
    core.create_namespaced_pod(namespace, agent_pod(port=port, key_digest=hashlib.sha256(key.encode()).hexdigest()))
    wait_until(lambda: core.read_namespaced_pod("sandbox", namespace).status.phase == "Running", timeout=60,
               what="the sandbox pod to run")
    running = time.monotonic()
    with attach(port, key) as platform:
        ready, _ = protocol.receive(platform)
        assert ready["op"] == "ready"
        answered = time.monotonic()
        protocol.send(platform, {"op": "specialize", "code": server.publish(zip_of({"app.py": APP}))})
        assert protocol.receive(platform)[0] == {"op": "specialized"}
        protocol.send(platform, init_frame())
        header, body = invoke_frame({"n": 1})
        protocol.send(platform, header, body)
        result, answer = protocol.receive(platform)
        invoked = time.monotonic()
        assert result["status"] == "success", (result, answer)
        assert json.loads(answer) == {"echo": {"n": 1}, "uid": 65532, "cwd": "/var/task", "key": False}
    print(f"pod Running {running - started:.2f} s after its creation, ready {answered - running:.2f} s later, "
          f"specialized, initialized and invoked {invoked - answered:.2f} s after that")

    # The platform left: the agent ended, and the pod with it.
    wait_until(lambda: core.read_namespaced_pod("sandbox", namespace).status.phase == "Succeeded", timeout=30,
               what="the pod to complete once the platform left")
    core.delete_namespaced_pod("sandbox", namespace)
    wait_until(lambda: not core.list_namespaced_pod(namespace).items, timeout=60, what="the pod to be deleted")
