"""A namespace of its own for each test of the test bed (whose fixtures are in tests/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client

from tests.k8s.processes import wait_until


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

