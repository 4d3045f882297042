"""The test bed's real kube-apiserver (1.20) accepts every object the backend makes, through its
validation and admission (LimitRanger and ResourceQuota included), and keeps every field it was
given: a field the server does not know it would drop without a word, so each object read back
must hold all of what was sent. Pods are created as a dry run: no image is pulled, nothing runs.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.utils import parse_quantity

from tests.executors.kubernetes.manifests import DEFAULTS, EVERYTHING, KEY_SHA256, TESTBED
from tests.k8s.processes import wait_until
from worker.executors.kubernetes import objects
from worker.executors.kubernetes.settings import KubernetesSettings

pytestmark = pytest.mark.k8s

#: What Kubernetes 1.20 can be given: everything but user namespaces (hostUsers is 1.25's).
ON_1_20 = {"defaults": DEFAULTS, "everything": replace(EVERYTHING, user_namespaces=False), "testbed": TESTBED}


@pytest.fixture
def tenant(core: client.CoreV1Api, api_client: client.ApiClient) -> Iterator[tuple[str, str]]:
    """A fresh tenant's account id and installation name; its namespace and the RuntimeClass the
    ``everything`` pods name are removed afterwards."""
    account_id = "".join(secrets.choice("0123456789") for _ in range(12))
    installation = f"test-{uuid.uuid4().hex[:8]}"
    node = client.NodeV1Api(api_client)
    node.create_runtime_class({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
                               "metadata": {"name": f"gvisor-{installation}"}, "handler": "runsc"})
    yield account_id, installation
    node.delete_runtime_class(f"gvisor-{installation}")
    try:
        core.delete_namespace(DEFAULTS.namespace(account_id))
    except ApiException as error:
        if error.status != 404:
            raise


@pytest.mark.parametrize("variant", ON_1_20)
def test_the_api_server_accepts_every_object_and_keeps_every_field(
        api_client: client.ApiClient, core: client.CoreV1Api, tenant: tuple[str, str], variant: str) -> None:
    account_id, installation = tenant
    settings = replace(ON_1_20[variant], installation=installation)
    if settings.runtime_class:
        settings = replace(settings, runtime_class=f"gvisor-{installation}")
    namespace = settings.namespace(account_id)
    _created(core.create_namespace(objects.tenant_namespace(settings, account_id), _preload_content=False),
             objects.tenant_namespace(settings, account_id))
    _wait_for_default_account(core, namespace)
    networking = client.NetworkingV1Api(api_client)
    for manifest, create in (
        (objects.network_policy(settings, namespace), networking.create_namespaced_network_policy),
        (objects.resource_quota(settings, namespace, max_pods=3, max_memory_mb=3 * 10_240),
         core.create_namespaced_resource_quota),
        (objects.limit_range(settings, namespace), core.create_namespaced_limit_range),
    ):
        _created(create(namespace, manifest, _preload_content=False), manifest)
    for memory_mb, ephemeral_mb in ((128, 512), (1769, 2048), (10_240, 10_240)):
        pod = _pod(settings, namespace=namespace, memory_mb=memory_mb, ephemeral_mb=ephemeral_mb)
        _created(core.create_namespaced_pod(namespace, pod, dry_run="All", _preload_content=False), pod)
    assert core.list_namespaced_pod(namespace).items == []  # a dry run makes nothing


def test_the_guard_rails_refuse_what_lambda_would(core: client.CoreV1Api, api_client: client.ApiClient,
                                                  tenant: tuple[str, str]) -> None:
    account_id, installation = tenant
    settings = replace(DEFAULTS, installation=installation)
    namespace = settings.namespace(account_id)
    core.create_namespace(objects.tenant_namespace(settings, account_id))
    _wait_for_default_account(core, namespace)
    core.create_namespaced_limit_range(namespace, objects.limit_range(settings, namespace))
    core.create_namespaced_resource_quota(namespace, objects.resource_quota(settings, namespace, max_pods=1,
                                                                            max_memory_mb=1024))
    wait_until(lambda: core.read_namespaced_resource_quota("lambent-tenant", namespace).status.hard,
               timeout=30, what="the quota controller to count the namespace")
    too_big = _pod(settings, namespace=namespace, memory_mb=2048, ephemeral_mb=512)
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod(namespace, too_big, dry_run="All")
    assert refused.value.status == 403 and "exceeded quota" in refused.value.body
    burstable = _pod(settings, namespace=namespace, memory_mb=512, ephemeral_mb=512)
    burstable["spec"]["containers"][0]["resources"]["limits"]["memory"] = "1024Mi"
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod(namespace, burstable, dry_run="All")
    assert refused.value.status == 403 and "memory max limit to request ratio" in refused.value.body
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
               "spec": {"ports": [{"port": 80}], "selector": {"a": "b"}}}
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_service(namespace, service, dry_run="All")
    assert refused.value.status == 403 and "services=0" in refused.value.body.replace(": ", "=")


def test_a_1_20_server_drops_hostusers_which_is_why_user_namespaces_is_a_setting(
        core: client.CoreV1Api, tenant: tuple[str, str]) -> None:
    account_id, installation = tenant
    settings = replace(DEFAULTS, installation=installation, user_namespaces=True)
    namespace = settings.namespace(account_id)
    core.create_namespace(objects.tenant_namespace(settings, account_id))
    _wait_for_default_account(core, namespace)
    pod = _pod(settings, namespace=namespace, memory_mb=128, ephemeral_mb=512)
    answer = json.loads(core.create_namespaced_pod(namespace, pod, dry_run="All", _preload_content=False).data)
    assert pod["spec"]["hostUsers"] is False and "hostUsers" not in answer["spec"]


def _pod(settings: KubernetesSettings, *, namespace: str, memory_mb: int, ephemeral_mb: int) -> dict[str, Any]:
    return objects.sandbox_pod(settings, namespace=namespace, name=objects.pod_name(runtime="python3.12",
                               memory_mb=memory_mb), runtime="python3.12", memory_mb=memory_mb,
                               ephemeral_mb=ephemeral_mb, key_sha256=KEY_SHA256,
                               host_port=settings.host_ports[0] if settings.host_network else None)


def _wait_for_default_account(core: client.CoreV1Api, namespace: str) -> None:
    def ready() -> bool:
        return bool(core.list_namespaced_service_account(namespace, field_selector="metadata.name=default").items)
    wait_until(ready, timeout=30, what=f"{namespace}'s default service account", interval=0.1)


def _created(response: Any, sent: dict[str, Any]) -> None:
    """Every field sent is in what the server answered, with the same value (quantities compared as
    numbers: it writes ``1000m`` as ``1``)."""
    _assert_holds(json.loads(response.data), sent, path=sent["kind"])


def _assert_holds(answer: Any, sent: Any, *, path: str) -> None:
    if isinstance(sent, dict):
        assert isinstance(answer, dict), path
        for key, value in sent.items():
            assert key in answer, f"the server dropped {path}.{key}"
            _assert_holds(answer[key], value, path=f"{path}.{key}")
    elif isinstance(sent, list):
        assert isinstance(answer, list) and len(answer) == len(sent), path
        for index, (answered, value) in enumerate(zip(answer, sent, strict=True)):
            _assert_holds(answered, value, path=f"{path}.{index}")
    elif isinstance(sent, str) and sent != answer and sent[:1].isdigit():
        assert parse_quantity(sent) == parse_quantity(answer), path
    else:
        assert answer == sent, path
