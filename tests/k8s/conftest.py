"""The test bed, started once for this package's tests and stopped after them: the control plane
for every test here, the node (containerd and a kubelet) the first time a test asks for it. Where
the machine cannot host it (not root, not Debian) the tests are skipped, saying why, unless
LAMBENT_TEST_REQUIRE_SANDBOX asks for every test that needs root; anywhere else a test bed that
does not start fails them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client, config

from tests.k8s.node import Node
from tests.k8s.processes import wait_until
from tests.k8s.testbed import Testbed, Unavailable, binaries


@pytest.fixture(scope="package")
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


@pytest.fixture(scope="package")
def node(testbed: Testbed) -> Node:
    return testbed.start_node()


@pytest.fixture(scope="package")
def api_client(testbed: Testbed) -> Iterator[client.ApiClient]:
    with config.new_client_from_config(config_file=str(testbed.kubeconfig)) as api_client:
        yield api_client


@pytest.fixture(scope="package")
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture
def namespace(core: client.CoreV1Api) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    # Pods are admitted once the controller manager gave the namespace's default account its token.
    def has_token() -> bool:
        accounts = core.list_namespaced_service_account(name, field_selector="metadata.name=default").items
        return bool(accounts and accounts[0].secrets)
    wait_until(has_token, timeout=30, what=f"the token of {name}'s default service account", interval=0.1)
    yield name
    core.delete_namespace(name)

