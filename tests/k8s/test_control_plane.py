"""The control plane of the test bed, for real, through the official ``kubernetes`` client."""

from __future__ import annotations

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
    configuration = client.Configuration(host=testbed.control_plane.url,
                                         api_key={"authorization": "Bearer not-a-token"})
    configuration.ssl_ca_cert = str(testbed.control_plane.ca_file)
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


def test_a_watch_from_before_an_api_server_restart_is_410_gone(core: client.CoreV1Api, namespace: str,
                                                               testbed: Testbed) -> None:
    before = core.list_namespaced_pod(namespace).metadata.resource_version
    core.create_namespaced_pod(namespace, pending_pod("later"))
    # The restarted API server's watch cache begins after ``before``: the real "too old resource version".
    testbed.control_plane.restart_apiserver()
    with pytest.raises(ApiException) as gone:
        for _event in watch.Watch().stream(core.list_namespaced_pod, namespace, resource_version=before,
                                           timeout_seconds=10):
            pass
    assert gone.value.status == 410
    assert "too old resource version" in str(gone.value)
    relisted = core.list_namespaced_pod(namespace)  # what a watcher does next
    assert [pod.metadata.name for pod in relisted.items] == ["later"]


def test_the_controller_manager_runs_controllers(api_client: client.ApiClient, core: client.CoreV1Api,
                                                namespace: str) -> None:
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
