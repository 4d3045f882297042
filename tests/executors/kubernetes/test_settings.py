"""The Kubernetes backend's settings: from LAMBENT_KUBERNETES_* variables to KubernetesSettings, and
what is refused, naming the variable.

Settings are read once per process, so the cases that start from the environment run Django in a
fresh interpreter; the refusals override the settings read.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from worker.executors.kubernetes.settings import KubernetesSettings

PRINT_SETTINGS = """
import dataclasses, json, django
django.setup()
from worker.executors.kubernetes.settings import KubernetesSettings
print(json.dumps(dataclasses.asdict(KubernetesSettings.from_settings())))
"""


def settings_from(env: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("LAMBENT_")}
    clean.update(env, DJANGO_SETTINGS_MODULE="lambent.settings", LAMBENT_DATA_DIR=str(tmp_path / "data"))
    ran = subprocess.run([sys.executable, "-c", PRINT_SETTINGS], env=clean, cwd=tmp_path, capture_output=True,
                         text=True)
    assert ran.returncode == 0, ran.stderr
    loaded: dict[str, Any] = json.loads(ran.stdout)
    return loaded


def test_the_defaults_are_the_dataclass_s(tmp_path: Path) -> None:
    found = settings_from({"LAMBENT_KUBERNETES_CODE_URL": "http://code.lambent-system.svc:8081"}, tmp_path)
    expected = json.loads(json.dumps(dataclasses.asdict(KubernetesSettings(
        code_url="http://code.lambent-system.svc:8081"))))
    assert found == expected
    assert found["namespace_pattern"] == "lambent-{account_id}" and found["agent_port"] == 8080
    assert found["kubeconfig"] is None and found["host_network"] is False


def test_every_variable_reaches_the_backend(tmp_path: Path) -> None:
    found = settings_from({
        "LAMBENT_KUBERNETES_KUBECONFIG": "/etc/lambent/kubeconfig", "LAMBENT_KUBERNETES_CONTEXT": "prod",
        "LAMBENT_KUBERNETES_NAMESPACE_PATTERN": "fn-{account_id}", "LAMBENT_KUBERNETES_INSTALLATION": "eu-1",
        "LAMBENT_KUBERNETES_PLATFORM_NAMESPACE": "faas",
        "LAMBENT_KUBERNETES_PLATFORM_POD_SELECTOR": "app.kubernetes.io/name=lambent,app.kubernetes.io/instance=eu",
        "LAMBENT_KUBERNETES_IMAGES": "python3.12=reg/py@sha256:" + "a" * 64,
        "LAMBENT_KUBERNETES_IMAGE_PATTERN": "reg/runtime-{runtime}:1", "LAMBENT_KUBERNETES_POOL_SIZES": "python3.12=4",
        "LAMBENT_KUBERNETES_POOL_SIZE": "0", "LAMBENT_KUBERNETES_RUNTIME_CLASS": "gvisor",
        "LAMBENT_KUBERNETES_IMAGE_PULL_SECRETS": "reg,mirror", "LAMBENT_KUBERNETES_AGENT_PORT": "9000",
        "LAMBENT_KUBERNETES_HOST_NETWORK": "true", "LAMBENT_KUBERNETES_HOST_PORTS": "20000-20999",
        "LAMBENT_KUBERNETES_USER_NAMESPACES": "yes", "LAMBENT_KUBERNETES_EGRESS_ALLOWED": "0.0.0.0/0,::/0",
        "LAMBENT_KUBERNETES_EGRESS_EXCEPT": "10.0.0.0/8,fc00::/7",
        "LAMBENT_KUBERNETES_CLUSTER_NETWORKS": "100.96.0.0/11", "LAMBENT_KUBERNETES_CODE_BIND": "0.0.0.0:9100",
        "LAMBENT_KUBERNETES_CODE_URL": "https://code.faas.svc:9100", "LAMBENT_KUBERNETES_MILLICPU_PER_GB": "1024",
        "LAMBENT_KUBERNETES_POD_START_SECONDS": "30",
    }, tmp_path)
    assert found == {
        "kubeconfig": "/etc/lambent/kubeconfig", "context": "prod", "namespace_pattern": "fn-{account_id}",
        "installation": "eu-1", "platform_namespace": "faas",
        "platform_pod_selector": {"app.kubernetes.io/name": "lambent", "app.kubernetes.io/instance": "eu"},
        "images": {"python3.12": "reg/py@sha256:" + "a" * 64}, "image_pattern": "reg/runtime-{runtime}:1",
        "pool_sizes": {"python3.12": 4}, "pool_size": 0, "runtime_class": "gvisor",
        "image_pull_secrets": ["reg", "mirror"], "agent_port": 9000, "host_network": True,
        "host_ports": [20000, 20999], "user_namespaces": True, "egress_allowed": ["0.0.0.0/0", "::/0"],
        "egress_except": ["10.0.0.0/8", "fc00::/7"], "cluster_networks": ["100.96.0.0/11"],
        "code_bind": "0.0.0.0:9100", "code_url": "https://code.faas.svc:9100", "millicpu_per_gb": 1024,
        "pod_start_seconds": 30.0,
    }


def test_helpers_answer_per_runtime_and_size() -> None:
    config = KubernetesSettings(code_url="http://c:1", images={"python3.12": "pinned"}, pool_sizes={"python3.13": 3})
    assert config.namespace("123456789012") == "lambent-123456789012"
    assert (config.image("python3.12"), config.image("python3.11")) == ("pinned", "lambent/runtime:python3.11")
    assert (config.pool_size_of("python3.13"), config.pool_size_of("python3.11")) == (3, 1)
    assert [config.millicpu(mb) for mb in (128, 1024, 1769, 10_240)] == [72, 579, 1000, 5790]


@pytest.mark.parametrize(("overrides", "complaint"), [
    ({"KUBERNETES_CODE_URL": None}, "LAMBENT_KUBERNETES_CODE_URL must be set"),
    ({"KUBERNETES_CODE_URL": "code.svc:8081"}, "LAMBENT_KUBERNETES_CODE_URL must be an http"),
    ({"KUBERNETES_NAMESPACE_PATTERN": "lambent"}, "LAMBENT_KUBERNETES_NAMESPACE_PATTERN must hold"),
    ({"KUBERNETES_NAMESPACE_PATTERN": "Lambent-{account_id}"}, "must make a DNS label"),
    ({"KUBERNETES_NAMESPACE_PATTERN": "{account_id}-{region}"}, "may name no field but"),
    ({"KUBERNETES_NAMESPACE_PATTERN": "x" * 60 + "{account_id}"}, "must make a DNS label"),
    ({"KUBERNETES_PLATFORM_NAMESPACE": "Lambent"}, "LAMBENT_KUBERNETES_PLATFORM_NAMESPACE"),
    ({"KUBERNETES_INSTALLATION": "my installation"}, "LAMBENT_KUBERNETES_INSTALLATION must be a label value"),
    ({"KUBERNETES_PLATFORM_POD_SELECTOR": {"app": "lambent system"}}, "LAMBENT_KUBERNETES_PLATFORM_POD_SELECTOR"),
    ({"KUBERNETES_IMAGE_PATTERN": "lambent/runtime:latest"}, "LAMBENT_KUBERNETES_IMAGE_PATTERN must hold"),
    ({"KUBERNETES_POOL_SIZES": {"python3.12": "many"}}, "LAMBENT_KUBERNETES_POOL_SIZES"),
    ({"KUBERNETES_AGENT_PORT": 70000}, "LAMBENT_KUBERNETES_AGENT_PORT"),
    ({"KUBERNETES_HOST_PORTS": "30000"}, "LAMBENT_KUBERNETES_HOST_PORTS must be first-last"),
    ({"KUBERNETES_HOST_PORTS": "32767-30000"}, "LAMBENT_KUBERNETES_HOST_PORTS"),
    ({"KUBERNETES_EGRESS_ALLOWED": ["0.0.0.0/0", "the internet"]}, "LAMBENT_KUBERNETES_EGRESS_ALLOWED"),
    ({"KUBERNETES_EGRESS_EXCEPT": ["10.0.0.1/8"]}, "LAMBENT_KUBERNETES_EGRESS_EXCEPT"),
    ({"KUBERNETES_CLUSTER_NETWORKS": ["10.96.0.0/33"]}, "LAMBENT_KUBERNETES_CLUSTER_NETWORKS"),
    ({"KUBERNETES_CODE_BIND": "8081"}, "LAMBENT_KUBERNETES_CODE_BIND"),
])
def test_what_kubernetes_would_refuse_is_refused_at_start(overrides: dict[str, Any], complaint: str) -> None:
    with override_settings(KUBERNETES_CODE_URL="http://code.lambent-system.svc:8081"), \
            override_settings(**overrides), pytest.raises(ImproperlyConfigured, match=complaint):
        KubernetesSettings.from_settings()
