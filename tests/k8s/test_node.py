"""Pods really run on the test bed's node: containerd and runc under the kubelet, host network only."""

from __future__ import annotations

import urllib.request

import pytest
from kubernetes import client

from tests.k8s.node import BUSYBOX_IMAGE, Node
from tests.k8s.processes import free_port, wait_until

pytestmark = pytest.mark.k8s


def httpd_pod(*, port: int) -> client.V1Pod:
    """Busybox's httpd on a loopback port of its own, as locked down as the restricted profile asks."""
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name="httpd", labels={"app": "httpd"}),
        spec=client.V1PodSpec(
            host_network=True, restart_policy="Never", automount_service_account_token=False,
            enable_service_links=False, termination_grace_period_seconds=2,
            security_context=client.V1PodSecurityContext(
                run_as_non_root=True, run_as_user=65532, run_as_group=65532,
                seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault")),
            containers=[client.V1Container(
                name="httpd", image=BUSYBOX_IMAGE, image_pull_policy="Never",
                args=["httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", "/www"],
                security_context=client.V1SecurityContext(
                    allow_privilege_escalation=False, read_only_root_filesystem=True,
                    capabilities=client.V1Capabilities(drop=["ALL"])),
                resources=client.V1ResourceRequirements(limits={"memory": "32Mi", "cpu": "100m"},
                                                        requests={"memory": "32Mi", "cpu": "100m"}),
                readiness_probe=client.V1Probe(
                    http_get=client.V1HTTPGetAction(host="127.0.0.1", port=port, path="/"),
                    period_seconds=1),
                volume_mounts=[client.V1VolumeMount(name="tmp", mount_path="/tmp")])],
            volumes=[client.V1Volume(name="tmp", empty_dir=client.V1EmptyDirVolumeSource(size_limit="16Mi"))]))


def page(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            return str(response.read().decode())
    except OSError:
        return None


def test_the_node_is_ready(node: Node, core: client.CoreV1Api) -> None:
    ready = [c.status for c in core.read_node(node.name).status.conditions if c.type == "Ready"]
    assert ready == ["True"]
    assert core.read_node(node.name).status.node_info.container_runtime_version.startswith("containerd://1.6")


def test_a_host_network_pod_runs_and_serves_on_its_loopback_port(node: Node, core: client.CoreV1Api,
                                                               namespace: str) -> None:
    port = free_port()
    core.create_namespaced_pod(namespace, httpd_pod(port=port))

    def ready() -> bool:
        status = core.read_namespaced_pod("httpd", namespace).status
        statuses = status.container_statuses or []
        return status.phase == "Running" and bool(statuses) and all(c.ready for c in statuses)
    wait_until(ready, timeout=60, what="the pod to run and be ready")
    pod = core.read_namespaced_pod("httpd", namespace)
    assert pod.spec.node_name == node.name  # placed there by the real scheduler
    assert page(port) == "hello from a pod of the Lambent test bed\n"

    core.delete_namespaced_pod("httpd", namespace)
    wait_until(lambda: not core.list_namespaced_pod(namespace).items, timeout=60, what="the pod to be deleted")
    assert page(port) is None  # its container was stopped, not just forgotten
