"""The Kubernetes backend's manifests: valid against the newest published schemas (strictly: no
field the API does not know), within the Pod Security Standards, and what each is for."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import replace
from typing import Any

import pytest
from kubernetes_validate import utils as schemas

from tests.executors.kubernetes import pod_security
from tests.executors.kubernetes.manifests import (
    ACCOUNT_ID,
    DEFAULTS,
    EVERYTHING,
    TESTBED,
    sandbox_pod,
    tenant_objects,
)
from worker.executors.base import FunctionSpec
from worker.executors.kubernetes import objects
from worker.executors.kubernetes.settings import LABEL_VALUE, KubernetesSettings

VARIANTS = {"defaults": DEFAULTS, "everything": EVERYTHING, "testbed": TESTBED}


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_object_passes_the_newest_schema_strictly(variant: str) -> None:
    newest = schemas.latest_version()
    for manifest in tenant_objects(VARIANTS[variant]):
        assert json.loads(json.dumps(manifest)) == manifest
        assert schemas.validate(manifest, newest, strict=True) == schemas.major_minor(newest)


def test_the_strict_schema_refuses_a_field_it_does_not_know() -> None:
    pod = sandbox_pod(DEFAULTS)
    pod["spec"]["hostUserz"] = False
    with pytest.raises(schemas.ValidationError, match="hostUserz"):
        schemas.validate(pod, schemas.latest_version(), strict=True)


def test_a_tenant_namespace_enforces_the_restricted_standard() -> None:
    namespace = objects.tenant_namespace(DEFAULTS, ACCOUNT_ID)
    assert namespace["metadata"]["name"] == "lambent-123456789012"
    labels = namespace["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert labels[f"pod-security.kubernetes.io/{mode}-version"] == "latest"
    assert labels["lambent.dev/installation"] == "lambent"
    assert labels["lambent.dev/tenant"] == ACCOUNT_ID
    with pytest.raises(ValueError, match="12 digits"):
        objects.tenant_namespace(DEFAULTS, "12345")


def test_the_network_policy_denies_all_but_the_platform_in_and_dns_code_and_internet_out() -> None:
    policy = objects.network_policy(EVERYTHING, "lambent-123456789012")["spec"]
    assert policy["podSelector"] == {} and policy["policyTypes"] == ["Ingress", "Egress"]
    platform = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "lambent-system"}},
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "lambent"}}}
    assert policy["ingress"] == [{"from": [platform], "ports": [{"protocol": "TCP", "port": 8080}]}]
    dns, code, internet = policy["egress"]
    assert dns["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                          "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}]
    assert dns["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    assert code == {"to": [platform], "ports": [{"protocol": "TCP", "port": 8081}]}
    assert internet == {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [
        "10.0.0.0/8", "10.244.0.0/16", "10.96.0.0/12", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12",
        "192.168.0.0/16"]}}]}


def test_egress_excepts_only_what_lies_inside_each_allowed_network() -> None:
    settings = replace(DEFAULTS, egress_allowed=("0.0.0.0/0", "::/0", "10.1.2.0/24"),
                       egress_except=("10.0.0.0/8", "fc00::/7"))
    (*_, internet) = objects.network_policy(settings, "n")["spec"]["egress"]
    assert [peer["ipBlock"] for peer in internet["to"]] == [
        {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]},
        {"cidr": "::/0", "except": ["fc00::/7"]},
        {"cidr": "10.1.2.0/24"},  # named by the operator: reachable though private
    ]


def test_quota_and_limits_hold_lambda_s_bounds() -> None:
    quota = objects.resource_quota(DEFAULTS, "n", max_pods=12, max_memory_mb=3538)["spec"]["hard"]
    assert quota == {"pods": "12", "requests.memory": "3538Mi", "limits.memory": "3538Mi", "requests.cpu": "2000m",
                     "limits.cpu": "2000m", "services": "0", "persistentvolumeclaims": "0"}
    (limits,) = objects.limit_range(DEFAULTS, "n")["spec"]["limits"]
    assert limits["type"] == "Container"
    assert limits["min"] == {"memory": "128Mi", "cpu": "72m", "ephemeral-storage": "832Mi"}
    assert limits["max"] == {"memory": "10240Mi", "cpu": "5790m", "ephemeral-storage": "10560Mi"}
    assert limits["maxLimitRequestRatio"] == {"memory": "1", "cpu": "1"}


@pytest.mark.parametrize("memory_mb", [128, 1769, 3008, 10_240])
def test_pods_of_any_size_fit_the_limit_range_and_their_quota(memory_mb: int) -> None:
    (limits,) = objects.limit_range(DEFAULTS, "n")["spec"]["limits"]
    for ephemeral_mb in (512, 10_240):
        resources = sandbox_pod(DEFAULTS, memory_mb=memory_mb, ephemeral_mb=ephemeral_mb)["spec"]["containers"][0][
            "resources"]
        assert resources["limits"] == resources["requests"]
        for name, amount in resources["requests"].items():
            assert _quantity(limits["min"][name]) <= _quantity(amount) <= _quantity(limits["max"][name])
    hard = objects.resource_quota(DEFAULTS, "n", max_pods=7, max_memory_mb=7 * memory_mb)["spec"]["hard"]
    assert _quantity(hard["limits.cpu"]) >= 7 * _quantity(resources["limits"]["cpu"])


def test_a_pod_s_memory_is_its_function_s_and_its_cpu_in_proportion() -> None:
    pod = sandbox_pod(DEFAULTS, memory_mb=1769, ephemeral_mb=2048)
    (container,) = pod["spec"]["containers"]
    assert container["resources"]["requests"] == {"memory": "1769Mi", "cpu": "1000m", "ephemeral-storage": "2368Mi"}
    assert {volume["name"]: volume["emptyDir"]["sizeLimit"] for volume in pod["spec"]["volumes"]} == {
        "tmp": "2048Mi", "task": "256Mi"}
    assert {mount["mountPath"] for mount in container["volumeMounts"]} == {"/tmp", "/var/task"}


def test_the_sandbox_pod_runs_the_agent_ready_once_it_listens() -> None:
    pod = sandbox_pod(EVERYTHING)
    spec = pod["spec"]
    (container,) = spec["containers"]
    assert container["command"] == ["python3", "-I", "-S", "/var/runtime/agent/__main__.py", "--listen",
                                    "tcp:0.0.0.0:8080", "--runtime-api", "127.0.0.1:9001"]
    assert container["env"] == [{"name": "LAMBENT_AGENT_KEY_SHA256", "value": "5" * 64}]
    assert container["readinessProbe"]["tcpSocket"] == {"port": 8080}
    assert container["image"] == "registry.example/lambent/runtime@sha256:" + "e" * 64
    assert spec["restartPolicy"] == "Never" and spec["terminationGracePeriodSeconds"] <= 5
    assert spec["automountServiceAccountToken"] is False and spec["enableServiceLinks"] is False
    assert spec["hostUsers"] is False and spec["runtimeClassName"] == "gvisor"
    assert spec["imagePullSecrets"] == [{"name": "registry"}, {"name": "mirror"}]
    assert pod["metadata"]["labels"] == {
        "lambent.dev/installation": "lambent", "lambent.dev/runtime": "python3.12", "lambent.dev/state": "generic",
        "lambent.dev/memory": "1769", "lambent.dev/ephemeral-storage": "512"}
    defaults = sandbox_pod(DEFAULTS)["spec"]
    assert not {"hostUsers", "runtimeClassName", "imagePullSecrets"} & set(defaults)
    assert defaults["containers"][0]["image"] == "lambent/runtime:python3.12"


@pytest.mark.parametrize("variant", ["defaults", "everything"])
def test_the_sandbox_pod_meets_the_restricted_standard(variant: str) -> None:
    pod = sandbox_pod(VARIANTS[variant])
    assert pod_security.restricted(pod) == []
    spec, (container,) = pod["spec"], pod["spec"]["containers"]
    # The same, field by field, as the standard names them.
    assert not {"hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace"} & set(spec)  # all false
    assert not any("hostPort" in port for port in container["ports"])
    assert {kind for volume in spec["volumes"] for kind in volume if kind != "name"} == {"emptyDir"}
    assert spec["securityContext"] == {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                                       "fsGroup": 65532, "seccompProfile": {"type": "RuntimeDefault"}}
    assert "sysctls" not in spec["securityContext"]
    assert container["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532, "allowPrivilegeEscalation": False,
        "privileged": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"}}  # no procMount, no SELinux or AppArmor override


def test_the_test_bed_pod_differs_only_in_what_a_cluster_without_pod_network_needs() -> None:
    plain = _flat(sandbox_pod(replace(DEFAULTS, agent_port=30123)))
    host = _flat(sandbox_pod(TESTBED, host_port=30123))
    differing = {path for path in plain.keys() | host.keys() if plain.get(path) != host.get(path)}
    assert differing == {"spec.hostNetwork", "spec.dnsPolicy", "spec.containers.0.command.5",
                         "spec.containers.0.command.7", "spec.containers.0.readinessProbe.tcpSocket.host"}
    assert host["spec.containers.0.command.5"] == "tcp:127.0.0.1:30123"
    assert host["spec.containers.0.command.7"] == "127.0.0.1:0"
    assert host["spec.dnsPolicy"] == "ClusterFirstWithHostNet"
    assert pod_security.restricted(sandbox_pod(TESTBED, host_port=30123)) == [
        "host namespaces: spec.hostNetwork", "host ports: container sandbox port 30123"]


BREAKS = {
    "privileged": (("spec", "containers", 0, "securityContext", "privileged"), True),
    "capability": (("spec", "containers", 0, "securityContext", "capabilities"), {"add": ["SYS_ADMIN"]}),
    "escalation": (("spec", "containers", 0, "securityContext", "allowPrivilegeEscalation"), True),
    "root": (("spec", "containers", 0, "securityContext", "runAsUser"), 0),
    "root allowed": (("spec", "containers", 0, "securityContext", "runAsNonRoot"), False),
    "seccomp": (("spec", "containers", 0, "securityContext", "seccompProfile"), {"type": "Unconfined"}),
    "procMount": (("spec", "containers", 0, "securityContext", "procMount"), "Unmasked"),
    "SELinux": (("spec", "securityContext", "seLinuxOptions"), {"type": "spc_t"}),
    "hostPID": (("spec", "hostPID"), True),
    "hostPort": (("spec", "containers", 0, "ports", 0, "hostPort"), 8080),
    "hostPath": (("spec", "volumes", 0), {"name": "tmp", "hostPath": {"path": "/"}}),
    "sysctl": (("spec", "securityContext", "sysctls"), [{"name": "kernel.msgmax", "value": "1"}]),
}


@pytest.mark.parametrize("broken", BREAKS)
def test_the_standard_s_checks_catch_each_break(broken: str) -> None:
    pod = copy.deepcopy(sandbox_pod(DEFAULTS))
    path, value = BREAKS[broken]
    target: Any = pod
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    assert pod_security.restricted(pod), broken


def test_a_specialized_pod_is_found_by_its_version_s_key_and_keeps_the_exact_names() -> None:
    spec = FunctionSpec(account_id=ACCOUNT_ID, function_name="f" * 64, version="$LATEST", function_arn="arn",
                        runtime="python3.12", handler="h.h", memory_size=128, timeout=3, ephemeral_storage=512,
                        code_sha256="c" * 64, fingerprint="d" * 64)
    patch = objects.specialized_labels(account_id=spec.account_id, function_name=spec.function_name,
                                       version=spec.version, fingerprint=spec.fingerprint)
    labels, annotations = patch["metadata"]["labels"], patch["metadata"]["annotations"]
    assert all(LABEL_VALUE.fullmatch(value) for value in labels.values())
    assert labels["lambent.dev/state"] == "specialized" and labels["lambent.dev/tenant"] == ACCOUNT_ID
    assert labels["lambent.dev/sandbox-key"] == hashlib.sha256(spec.key.encode()).hexdigest()[:40]
    assert labels["lambent.dev/version"].startswith("LATEST-")
    assert len(labels["lambent.dev/function"]) <= 63
    assert annotations == {"lambent.dev/function": "f" * 64, "lambent.dev/version": "$LATEST",
                           "lambent.dev/fingerprint": "d" * 64}
    selector = objects.specialized_selector(DEFAULTS, account_id=spec.account_id, function_name=spec.function_name,
                                            version=spec.version, fingerprint=spec.fingerprint)
    assert selector == ("lambent.dev/installation=lambent,lambent.dev/state=specialized,"
                        f"lambent.dev/sandbox-key={labels['lambent.dev/sandbox-key']}")


@pytest.mark.parametrize(("text", "expected"), [
    ("my-function", "my-function"), ("7", "7"), ("$LATEST", "LATEST-" + hashlib.sha256(b"$LATEST").hexdigest()[:8]),
    ("_private", "private-" + hashlib.sha256(b"_private").hexdigest()[:8]),
    ("---", hashlib.sha256(b"---").hexdigest()[:8]),
])
def test_label_values_are_kept_when_valid_and_made_valid_otherwise(text: str, expected: str) -> None:
    assert objects.label_value(text) == expected
    assert objects.label_value("a" * 63) == "a" * 63
    assert objects.label_value("a" * 64) != objects.label_value("a" * 65)


def test_selectors_and_names() -> None:
    assert objects.installation_selector(DEFAULTS) == "lambent.dev/installation=lambent"
    assert objects.generic_selector(DEFAULTS, runtime="python3.12", memory_mb=128, ephemeral_mb=512) == (
        "lambent.dev/installation=lambent,lambent.dev/state=generic,lambent.dev/runtime=python3.12,"
        "lambent.dev/memory=128,lambent.dev/ephemeral-storage=512")
    name = objects.pod_name(runtime="python3.12", memory_mb=128)
    assert name.startswith("sandbox-python3-12-128-") and len(name) == len("sandbox-python3-12-128-") + 10
    assert name != objects.pod_name(runtime="python3.12", memory_mb=128)


@pytest.mark.parametrize(("settings", "arguments", "complaint"), [
    (DEFAULTS, {"memory_mb": 127}, "memory"),
    (DEFAULTS, {"memory_mb": 10_241}, "memory"),
    (DEFAULTS, {"ephemeral_mb": 511}, "ephemeral"),
    (DEFAULTS, {"key_sha256": "A" * 64}, "sha256"),
    (DEFAULTS, {"host_port": 30123}, "host port"),
    (TESTBED, {"host_port": None}, "host port"),
    (TESTBED, {"host_port": 80}, "outside"),
])
def test_a_pod_out_of_bounds_is_refused(settings: KubernetesSettings, arguments: dict[str, Any],
                                        complaint: str) -> None:
    given: dict[str, Any] = {"namespace": "n", "name": "p", "runtime": "python3.12", "memory_mb": 128,
                             "ephemeral_mb": 512, "key_sha256": "5" * 64, "host_port": None, **arguments}
    with pytest.raises(ValueError, match=complaint):
        objects.sandbox_pod(settings, **given)


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return {prefix.rstrip("."): value}
    flat: dict[str, Any] = {}
    for key, item in items:
        flat.update(_flat(item, f"{prefix}{key}."))
    return flat


def _quantity(amount: str) -> float:
    """A quantity as the manifests write them (``Mi``, ``m``, plain)."""
    if amount.endswith("Mi"):
        return float(amount[:-2])
    if amount.endswith("m"):
        return float(amount[:-1]) / 1000
    return float(amount)
