"""The control plane of the test bed, for real, through the official ``kubernetes`` client."""

from __future__ import annotations

import copy

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from tests.k8s.processes import wait_until
from tests.k8s.testbed import Testbed

pytestmark = pytest.mark.k8s


def pending_pod(name: str) -> client.V1Pod:
    """A pod no node will run: it stays Pending, which is all these tests need."""
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels={"app": "lambent-test"}),
        spec=client.V1PodSpec(
            containers=[client.V1Container(name="main", image="localhost/none:1", image_pull_policy="Never")],
            node_selector={"lambent.dev/no-such-node": "true"}))


def test_the_api_server_answers_the_official_client(api_client: client.ApiClient, testbed: Testbed) -> None:
    assert client.VersionApi(api_client).get_code().git_version == "v1.20.2"
    assert testbed.control_plane.url.startswith("https://127.0.0.1:")
    configuration = copy.deepcopy(api_client.configuration)
    configuration.api_key = {"authorization": "Bearer not-a-token"}
    with pytest.raises(ApiException) as refused, client.ApiClient(configuration) as stranger:
        client.CoreV1Api(stranger).list_namespace()
    assert refused.value.status == 401


def test_a_namespace_and_a_pod_are_created_and_read_back(core: client.CoreV1Api, namespace: str) -> None:
    assert core.read_namespace(namespace).status.phase == "Active"
    created = core.create_namespaced_pod(namespace, pending_pod("p1"))
    read = core.read_namespaced_pod("p1", namespace)
    assert read.metadata.uid == created.metadata.uid
    assert read.metadata.labels == {"app": "lambent-test"}
    assert read.status.phase == "Pending"
    assert [pod.metadata.name for pod in core.list_namespaced_pod(namespace, label_selector="app=lambent-test").items] \
        == ["p1"]


def test_the_api_server_validates_as_a_real_one(core: client.CoreV1Api, namespace: str) -> None:
    pod = pending_pod("Not_A_DNS_Name")
    with pytest.raises(ApiException) as invalid:
        core.create_namespaced_pod(namespace, pod)
    assert invalid.value.status == 422
    assert "metadata.name" in invalid.value.body


def test_a_watch_from_the_lists_resource_version_sees_what_follows(core: client.CoreV1Api, namespace: str) -> None:
    listed = core.list_namespaced_pod(namespace)
    core.create_namespaced_pod(namespace, pending_pod("watched"))
    stream = watch.Watch().stream(core.list_namespaced_pod, namespace,
                                  resource_version=listed.metadata.resource_version, timeout_seconds=10)
    first = next(stream)
    assert (first["type"], first["object"].metadata.name) == ("ADDED", "watched")


def test_a_watch_from_an_expired_resource_version_is_410_gone(core: client.CoreV1Api, namespace: str) -> None:
    # "1" is older than anything in the API server's watch cache: the real "too old resource version".
    with pytest.raises(ApiException) as gone:
        for _event in watch.Watch().stream(core.list_namespaced_pod, namespace, resource_version="1",
                                           timeout_seconds=10):
            pass
    assert gone.value.status == 410
    assert "too old resource version" in str(gone.value)


def test_the_controller_manager_runs_controllers(api_client: client.ApiClient, core: client.CoreV1Api,
                                                namespace: str) -> None:
    wait_until(lambda: core.list_namespaced_service_account(namespace).items, timeout=30,
               what="the service-account controller to make the namespace's default account")
    template = pending_pod("")
    replica_set = client.V1ReplicaSet(
        metadata=client.V1ObjectMeta(name="rs"),
        spec=client.V1ReplicaSetSpec(
            replicas=2, selector=client.V1LabelSelector(match_labels={"app": "lambent-test"}),
            template=client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels={"app": "lambent-test"}),
                                              spec=template.spec)))
    client.AppsV1Api(api_client).create_namespaced_replica_set(namespace, replica_set)
    wait_until(lambda: len(core.list_namespaced_pod(namespace).items) == 2, timeout=30,
               what="the ReplicaSet's two pods")
    owners = {pod.metadata.owner_references[0].name for pod in core.list_namespaced_pod(namespace).items}
    assert owners == {"rs"}
