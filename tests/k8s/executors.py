"""Kubernetes executors on the test bed: the backend as an installation runs it, with the test bed's
one difference (host-network pods, each agent on a 127.0.0.1 port of its own)."""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from types import MappingProxyType

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from tests.k8s.node import RUNTIME_IMAGE
from tests.k8s.testbed import Testbed
from worker.executors.kubernetes.code_links import CodeLinks
from worker.executors.kubernetes.executor import KubernetesExecutor
from worker.executors.kubernetes.settings import KubernetesSettings

PLATFORM_NAMESPACE = "lambent-system"


def settings_on(testbed: Testbed, **overrides: object) -> KubernetesSettings:
    """Settings of an installation of its own on the test bed (its pods, its tenant namespaces)."""
    installation = f"t{uuid.uuid4().hex[:8]}"
    settings = KubernetesSettings(
        kubeconfig=str(testbed.kubeconfig), installation=installation,
        namespace_pattern=f"{installation}-{{account_id}}", platform_namespace=PLATFORM_NAMESPACE,
        images=MappingProxyType({"python3.11": RUNTIME_IMAGE}), pool_size=1,
        host_network=True, host_ports=(31000, 31999), code_bind="127.0.0.1:0", code_url="http://127.0.0.1:0",
        pod_start_seconds=60.0)
    return replace(settings, **overrides)  # type: ignore[arg-type]


def ensure_platform_namespace(api_client: client.ApiClient) -> None:
    with contextlib.suppress(ApiException):
        client.CoreV1Api(api_client).create_namespace({"metadata": {"name": PLATFORM_NAMESPACE}})


@contextlib.asynccontextmanager
async def executor_on(testbed: Testbed | None, code_source: Callable[[str], bytes], *,
                           settings: KubernetesSettings | None = None, keep_alive_s: float = 60,
                           **options: object) -> AsyncIterator[KubernetesExecutor]:
    """An executor with the given settings, or ``testbed``'s."""
    if settings is None:
        assert testbed is not None
        settings = settings_on(testbed)
    api_client = config.new_client_from_config(config_file=settings.kubeconfig)
    ensure_platform_namespace(api_client)
    links = CodeLinks(source=code_source, key=secrets.token_bytes(32), base_url=settings.code_url,
                      bind=settings.code_bind)
    backend = KubernetesExecutor(settings=settings, api_client=api_client, code_links=links,
                                 keep_alive_s=keep_alive_s, **options)  # type: ignore[arg-type]
    try:
        yield backend
    finally:
        await backend.close()
