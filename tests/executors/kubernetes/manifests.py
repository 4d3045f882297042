"""The objects the Kubernetes backend makes for one tenant, in the variants the tests check them in."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from worker.executors.kubernetes import objects
from worker.executors.kubernetes.settings import KubernetesSettings

ACCOUNT_ID = "123456789012"
KEY_SHA256 = "5" * 64
#: The defaults, as an operator who sets only the required code URL runs them.
DEFAULTS = KubernetesSettings(code_url="http://lambent-executor.lambent-system.svc:8081")
#: Every optional field given, the newest server's fields (user namespaces) on.
EVERYTHING = replace(DEFAULTS, runtime_class="gvisor", image_pull_secrets=("registry", "mirror"),
                     user_namespaces=True, cluster_networks=("10.244.0.0/16", "10.96.0.0/12"),
                     images={"python3.12": "registry.example/lambent/runtime@sha256:" + "e" * 64})
#: The test bed's: host-network pods, and no field newer than Kubernetes 1.20.
TESTBED = replace(DEFAULTS, host_network=True, host_ports=(30000, 32767))


def sandbox_pod(settings: KubernetesSettings, *, name: str = "sandbox-python3-12-1769-0123456789",
                memory_mb: int = 1769, ephemeral_mb: int = 512, host_port: int | None = None) -> dict[str, Any]:
    if settings.host_network and host_port is None:
        host_port = 30123
    return objects.sandbox_pod(settings, namespace=settings.namespace(ACCOUNT_ID), name=name, runtime="python3.12",
                               memory_mb=memory_mb, ephemeral_mb=ephemeral_mb, key_sha256=KEY_SHA256,
                               host_port=host_port)


def tenant_objects(settings: KubernetesSettings) -> list[dict[str, Any]]:
    """A tenant's namespace, its guard rails and pods at both ends of Lambda's sizes."""
    namespace = settings.namespace(ACCOUNT_ID)
    return [
        objects.tenant_namespace(settings, ACCOUNT_ID),
        objects.network_policy(settings, namespace),
        objects.resource_quota(settings, namespace, max_pods=1003, max_memory_mb=1003 * 10_240),
        objects.limit_range(settings, namespace),
        sandbox_pod(settings, name="sandbox-python3-12-128-0000000001", memory_mb=128, ephemeral_mb=512),
        sandbox_pod(settings, name="sandbox-python3-12-10240-000000002", memory_mb=10_240, ephemeral_mb=10_240),
    ]
