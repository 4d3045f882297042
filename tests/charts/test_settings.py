"""The chart's settings: each one the platform reads, the Kubernetes backend's accepted by its own
checks, and its platform pods the ones the sandboxes' NetworkPolicy lets in."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.charts.conftest import ROOT, SCENARIOS, Render, hook, of_kind


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_setting_is_one_the_platform_reads(render: Render, scenario: str) -> None:
    source = (ROOT / "platform" / "lambent" / "settings.py").read_text()
    read = set(re.findall(r'"(LAMBENT_[A-Z0-9_]+)"', source))
    for configmap in of_kind(render(scenario), "ConfigMap"):
        assert set(configmap["data"]) - read == set(), configmap["metadata"]["name"]


def backend_settings(data: dict[str, str]) -> Any:
    """The Kubernetes backend's settings, read by its own checks from a ConfigMap's variables."""
    from django.test import override_settings

    from worker.executors.kubernetes.settings import KubernetesSettings

    def mapping(name: str) -> dict[str, str]:
        return dict(pair.split("=", 1) for pair in data.get(name, "").split(",") if pair)

    def listing(name: str) -> list[str]:
        return data[name].split(",") if name in data else []

    prefix = "LAMBENT_KUBERNETES_"
    with override_settings(
            KUBERNETES_KUBECONFIG=None, KUBERNETES_CONTEXT=None,
            KUBERNETES_NAMESPACE_PATTERN=data[prefix + "NAMESPACE_PATTERN"],
            KUBERNETES_INSTALLATION=data[prefix + "INSTALLATION"],
            KUBERNETES_PLATFORM_NAMESPACE=data[prefix + "PLATFORM_NAMESPACE"],
            KUBERNETES_PLATFORM_POD_SELECTOR=mapping(prefix + "PLATFORM_POD_SELECTOR"),
            KUBERNETES_IMAGES=mapping(prefix + "IMAGES"), KUBERNETES_IMAGE_PATTERN="unnamed/{runtime}",
            KUBERNETES_POOL_SIZES=mapping(prefix + "POOL_SIZES"), KUBERNETES_POOL_SIZE=int(data[prefix + "POOL_SIZE"]),
            KUBERNETES_RUNTIME_CLASS=data.get(prefix + "RUNTIME_CLASS"),
            KUBERNETES_IMAGE_PULL_SECRETS=listing(prefix + "IMAGE_PULL_SECRETS"),
            KUBERNETES_AGENT_PORT=int(data[prefix + "AGENT_PORT"]),
            KUBERNETES_HOST_NETWORK=data[prefix + "HOST_NETWORK"] == "true",
            KUBERNETES_HOST_PORTS=data.get(prefix + "HOST_PORTS", "30000-32767"),
            KUBERNETES_USER_NAMESPACES=data[prefix + "USER_NAMESPACES"] == "true",
            KUBERNETES_EGRESS_ALLOWED=listing(prefix + "EGRESS_ALLOWED"),
            KUBERNETES_EGRESS_EXCEPT=listing(prefix + "EGRESS_EXCEPT"),
            KUBERNETES_CLUSTER_NETWORKS=listing(prefix + "CLUSTER_NETWORKS"),
            KUBERNETES_CODE_BIND=data[prefix + "CODE_BIND"], KUBERNETES_CODE_URL=data[prefix + "CODE_URL"],
            KUBERNETES_MILLICPU_PER_GB=int(data[prefix + "MILLICPU_PER_GB"]),
            KUBERNETES_POD_START_SECONDS=float(data[prefix + "POD_START_SECONDS"])):
        return KubernetesSettings.from_settings()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_settings_are_the_ones_the_kubernetes_backend_accepts(render: Render, scenario: str) -> None:
    (data,) = [m["data"] for m in of_kind(render(scenario), "ConfigMap") if not hook(m)]
    kube = backend_settings(data)
    assert kube.platform_pod_selector == {"app.kubernetes.io/instance": "lambent",
                                          "lambent.dev/reaches-sandboxes": "true"}
    assert kube.platform_namespace == "lambent-system" and kube.installation == "lambent"
    assert set(kube.images) == {"python3.11", "python3.13"}
    assert kube.host_network is (scenario == "testbed")


def test_the_platform_pods_are_the_ones_the_sandboxes_let_in(render: Render) -> None:
    manifests = render("minimal")
    (data,) = [m["data"] for m in of_kind(manifests, "ConfigMap") if not hook(m)]
    selector = dict(pair.split("=", 1) for pair in data["LAMBENT_KUBERNETES_PLATFORM_POD_SELECTOR"].split(","))
    selected = {d["metadata"]["name"] for d in of_kind(manifests, "Deployment")
                if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()}
    assert selected == {"lambent-api", "lambent-worker", "lambent-executor"}
