"""The Kubernetes objects of the backend, as plain manifests: no API call is made here.

Each builder returns a JSON-able dict, what the official client's ``create_namespaced_*(namespace,
body=...)`` accepts, so the objects can be read, diffed, validated against the published schemas
and tried on a real API server without a cluster of one's own. Together they keep a tenant's code
where the local backend keeps it:

- each tenant's pods in a namespace of its own (``tenant_namespace``), labelled so that Pod
  Security admission enforces the ``restricted`` standard on everything in it;
- a NetworkPolicy (``network_policy``) that lets only the platform's pods reach the agents, and
  lets the pods reach DNS, the executor's code server and the internet, but no private, cluster
  or metadata address;
- a ResourceQuota and a LimitRange (``resource_quota``, ``limit_range``): Lambda's bounds on
  memory and storage, no Services, no volumes claimed;
- the sandbox pod (``sandbox_pod``): one execution environment, a non-root agent under seccomp
  with no capability, no service-account token and a read-only root; its memory limit is its
  request, the function's MemorySize, and its CPU is in proportion, as Lambda gives it.

A pod is made generic (``lambent.dev/state: generic``, no code) for one pool: a tenant namespace,
a runtime, a memory and a storage size, since its resources are fixed at creation. Specializing
it patches ``specialized_labels`` onto it: from then on it belongs to one function version.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
from typing import Any

from lambent.env import parse_bind
from worker.executors.kubernetes.settings import LABEL_VALUE, KubernetesSettings

Manifest = dict[str, Any]

INSTALLATION = "lambent.dev/installation"
TENANT = "lambent.dev/tenant"
RUNTIME = "lambent.dev/runtime"
STATE = "lambent.dev/state"
MEMORY = "lambent.dev/memory"
EPHEMERAL_STORAGE = "lambent.dev/ephemeral-storage"
FUNCTION = "lambent.dev/function"
VERSION = "lambent.dev/version"
#: The label a specialized pod is found by: a digest of tenant, function, version and fingerprint.
SANDBOX_KEY = "lambent.dev/sandbox-key"
#: An annotation only: labels' values are short, the fingerprint is a sha256 (64 hex digits).
FINGERPRINT = "lambent.dev/fingerprint"
GENERIC = "generic"
SPECIALIZED = "specialized"

#: Lambda's bounds, in MB (MiB, as Lambda counts them).
MEMORY_MB = (128, 10_240)
EPHEMERAL_MB = (512, 10_240)
#: Room for the code the agent unpacks into /var/task (Lambda's 250 MB unzipped, rounded up) and
#: for the container's log, on top of /tmp: a pod's ephemeral storage is the sum.
TASK_MB = 256
LOG_MB = 64
#: The uid and gid of everything in a sandbox: not root, not a uid of the node's.
SANDBOX_UID = 65532
CONTAINER = "sandbox"
AGENT = "/var/runtime/agent/__main__.py"
#: Where the agent serves the Runtime API to the runtime, inside the pod's own network namespace.
RUNTIME_API = "127.0.0.1:9001"
NETWORK_POLICY = "lambent-sandboxes"
_PSS = "pod-security.kubernetes.io/"


def tenant_namespace(settings: KubernetesSettings, account_id: str) -> Manifest:
    """The namespace of one tenant's pods; Pod Security admission enforces (and audits and warns
    of) the newest ``restricted`` standard on all of them."""
    if not re.fullmatch(r"\d{12}", account_id):
        raise ValueError(f"an account id is 12 digits, got {account_id!r}")
    labels = {INSTALLATION: settings.installation, TENANT: account_id}
    for mode in ("enforce", "audit", "warn"):
        labels[_PSS + mode] = "restricted"
        labels[_PSS + mode + "-version"] = "latest"
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": settings.namespace(account_id), "labels": labels}}


def network_policy(settings: KubernetesSettings, namespace: str, *, code_port: int | None = None) -> Manifest:
    """Every pod of ``namespace`` is denied all traffic in and out but this: in, from the platform's
    pods to the agent's port; out, to the cluster's DNS, to the executor's code server, and to the
    allowed networks less the excepted ones (private, link-local with the cloud metadata address,
    CGNAT, the cluster's ranges). An allowed network inside an excepted one is kept as given: the
    operator named it. It takes a CNI that enforces NetworkPolicy (Calico, Cilium...). ``code_port``:
    the port the code server bound, when ``code_bind`` lets the kernel choose it."""
    code_port = code_port or parse_bind(settings.code_bind)[1]
    dns = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
           "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": NETWORK_POLICY, "namespace": namespace, "labels": {INSTALLATION: settings.installation}},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [_platform_pods(settings)], "ports": [_tcp(settings.agent_port)]}],
            "egress": [
                {"to": [dns], "ports": [{"protocol": "UDP", "port": 53}, _tcp(53)]},
                {"to": [_platform_pods(settings)], "ports": [_tcp(code_port)]},
                {"to": [{"ipBlock": block} for block in _egress_blocks(settings)]},
            ],
        },
    }


def resource_quota(settings: KubernetesSettings, namespace: str, *, max_pods: int, max_memory_mb: int) -> Manifest:
    """A backstop under the executor's own admission, which is exact (the concurrency counters):
    what a bug in it could start at most in one tenant's namespace, and no Service nor volume
    claim at all.

    The executor gives ``max_pods`` = the tenant's concurrent executions limit (a running
    invocation holds one pod) plus the generic pods its pools keep, and ``max_memory_mb`` = that
    limit times the largest MemorySize of the tenant's functions plus the memory of those generic
    pods; the CPU follows from the memory as each pod's does (rounded down per pod, so the sum
    never exceeds it).
    """
    memory = f"{max_memory_mb}Mi"
    cpu = f"{settings.millicpu(max_memory_mb)}m"
    return {
        "apiVersion": "v1", "kind": "ResourceQuota",
        "metadata": {"name": "lambent-tenant", "namespace": namespace, "labels": {INSTALLATION: settings.installation}},
        "spec": {"hard": {"pods": str(max_pods), "requests.memory": memory, "limits.memory": memory,
                          "requests.cpu": cpu, "limits.cpu": cpu, "services": "0", "persistentvolumeclaims": "0"}},
    }


def pull_secret(settings: KubernetesSettings, namespace: str, *, source: Manifest) -> Manifest:
    """A copy in a tenant's ``namespace`` of a Secret the kubelet pulls runtime images with
    (``source``, as read from the platform's namespace: a pod names Secrets of its own namespace
    only): its name, type and data, nothing of where it came from."""
    return {"apiVersion": "v1", "kind": "Secret", "type": source["type"], "data": dict(source.get("data") or {}),
            "metadata": {"name": source["metadata"]["name"], "namespace": namespace,
                         "labels": {INSTALLATION: settings.installation}}}


def limit_range(settings: KubernetesSettings, namespace: str) -> Manifest:
    """Lambda's bounds per container: memory 128-10,240 MB, /tmp 512-10,240 MB (plus the code and
    log room of every pod), CPU in proportion to memory, and limits equal to requests."""
    low, high = MEMORY_MB
    return {
        "apiVersion": "v1", "kind": "LimitRange",
        "metadata": {"name": "lambent-tenant", "namespace": namespace, "labels": {INSTALLATION: settings.installation}},
        "spec": {"limits": [{
            "type": "Container",
            "min": {"memory": f"{low}Mi", "cpu": f"{settings.millicpu(low)}m",
                    "ephemeral-storage": f"{_pod_storage_mb(EPHEMERAL_MB[0])}Mi"},
            "max": {"memory": f"{high}Mi", "cpu": f"{settings.millicpu(high)}m",
                    "ephemeral-storage": f"{_pod_storage_mb(EPHEMERAL_MB[1])}Mi"},
            "maxLimitRequestRatio": {"memory": "1", "cpu": "1"},
        }]},
    }


def sandbox_pod(settings: KubernetesSettings, *, namespace: str, name: str, runtime: str, memory_mb: int,
                ephemeral_mb: int, key_sha256: str, host_port: int | None = None) -> Manifest:
    """A generic sandbox pod of one pool: the runtime's image running the agent, which the platform
    authenticates to with the key whose sha256 it is given, and which unpacks the function's code
    into /var/task when the pod is specialized. Ready once the agent listens.

    ``host_port`` (test clusters without a pod network, ``settings.host_network``, and only there):
    the pod shares the node's network, the agent listens on 127.0.0.1 at that port, and the Runtime
    API on a port the kernel picks.
    """
    _check_pod(settings, memory_mb=memory_mb, ephemeral_mb=ephemeral_mb, key_sha256=key_sha256, host_port=host_port)
    listen, port = ("127.0.0.1", host_port) if host_port is not None else ("0.0.0.0", settings.agent_port)
    probe: Manifest = {"tcpSocket": {"port": port}, "periodSeconds": 1, "failureThreshold": 1}
    if host_port is not None:
        probe["tcpSocket"]["host"] = "127.0.0.1"
    container = {
        "name": CONTAINER,
        "image": settings.image(runtime),
        "imagePullPolicy": "IfNotPresent",
        "command": ["python3", "-I", "-S", AGENT, "--listen", f"tcp:{listen}:{port}",
                    "--runtime-api", "127.0.0.1:0" if host_port is not None else RUNTIME_API],
        "env": [{"name": "LAMBENT_AGENT_KEY_SHA256", "value": key_sha256}],
        "ports": [{"name": "agent", "containerPort": port, "protocol": "TCP"}],
        "readinessProbe": probe,
        "resources": _resources(settings, memory_mb=memory_mb, ephemeral_mb=ephemeral_mb),
        "securityContext": {"runAsNonRoot": True, "runAsUser": SANDBOX_UID, "runAsGroup": SANDBOX_UID,
                            "allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, {"name": "task", "mountPath": "/var/task"}],
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    spec: Manifest = {
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 2,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "dnsPolicy": "ClusterFirstWithHostNet" if host_port is not None else "ClusterFirst",
        "securityContext": {"runAsNonRoot": True, "runAsUser": SANDBOX_UID, "runAsGroup": SANDBOX_UID,
                            "fsGroup": SANDBOX_UID, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": f"{ephemeral_mb}Mi"}},
                    {"name": "task", "emptyDir": {"sizeLimit": f"{TASK_MB}Mi"}}],
    }
    if host_port is not None:
        spec["hostNetwork"] = True
    if settings.user_namespaces:
        spec["hostUsers"] = False
    if settings.runtime_class:
        spec["runtimeClassName"] = settings.runtime_class
    if settings.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": secret} for secret in settings.image_pull_secrets]
    labels = {INSTALLATION: settings.installation, RUNTIME: runtime, STATE: GENERIC, MEMORY: str(memory_mb),
              EPHEMERAL_STORAGE: str(ephemeral_mb)}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels}, "spec": spec}


def specialized_labels(*, account_id: str, function_name: str, version: str, fingerprint: str) -> Manifest:
    """The patch (strategic merge or JSON merge alike) that makes a generic pod one function
    version's for good. Labels must be short and plain (``$LATEST``, a 64-character name are
    not), so they carry a readable form and the digest the pod is found by; the annotation of the
    same key carries the exact value."""
    labels = {STATE: SPECIALIZED, TENANT: account_id, FUNCTION: label_value(function_name),
              VERSION: label_value(version),
              SANDBOX_KEY: sandbox_key(account_id=account_id, function_name=function_name, version=version,
                                       fingerprint=fingerprint)}
    annotations = {FUNCTION: function_name, VERSION: version, FINGERPRINT: fingerprint}
    return {"metadata": {"labels": labels, "annotations": annotations}}


def sandbox_key(*, account_id: str, function_name: str, version: str, fingerprint: str) -> str:
    """The ``lambent.dev/sandbox-key`` of a function version's pods: 160 bits of the sha256 of
    what ``FunctionSpec.key`` holds."""
    key = f"{account_id}/{function_name}/{version}/{fingerprint}"
    return hashlib.sha256(key.encode()).hexdigest()[:40]


def label_value(text: str) -> str:
    """``text`` if it is a valid label value; else its label-safe characters (at most 54) and 8 hex
    digits of its sha256, so that two values differ still."""
    if LABEL_VALUE.fullmatch(text):
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    readable = re.sub(r"[^A-Za-z0-9._-]", "", text)[:54].strip("-_.")
    return f"{readable}-{digest}" if readable else digest


def installation_selector(settings: KubernetesSettings) -> str:
    """The label selector of every pod this installation made."""
    return f"{INSTALLATION}={settings.installation}"


def generic_selector(settings: KubernetesSettings, *, runtime: str, memory_mb: int, ephemeral_mb: int) -> str:
    """The label selector of one pool's generic pods (within a tenant's namespace)."""
    return (f"{installation_selector(settings)},{STATE}={GENERIC},{RUNTIME}={runtime},{MEMORY}={memory_mb},"
            f"{EPHEMERAL_STORAGE}={ephemeral_mb}")


def specialized_selector(settings: KubernetesSettings, *, account_id: str, function_name: str, version: str,
                         fingerprint: str) -> str:
    """The label selector of one function version's pods."""
    key = sandbox_key(account_id=account_id, function_name=function_name, version=version, fingerprint=fingerprint)
    return f"{installation_selector(settings)},{STATE}={SPECIALIZED},{SANDBOX_KEY}={key}"


def pod_name(*, runtime: str, memory_mb: int) -> str:
    """A new pod's name: its pool in words, and 40 random bits (a clash is a 409, tried again)."""
    runtime_part = re.sub(r"[^a-z0-9]+", "-", runtime.lower()).strip("-")
    return f"sandbox-{runtime_part}-{memory_mb}-{secrets.token_hex(5)}"


def _platform_pods(settings: KubernetesSettings) -> Manifest:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": settings.platform_namespace}},
            "podSelector": {"matchLabels": dict(settings.platform_pod_selector)}}


def _tcp(port: int) -> Manifest:
    return {"protocol": "TCP", "port": port}


def _egress_blocks(settings: KubernetesSettings) -> list[Manifest]:
    excepted = [ipaddress.ip_network(network) for network in (*settings.egress_except, *settings.cluster_networks)]
    blocks = []
    for network in map(ipaddress.ip_network, settings.egress_allowed):
        inside = sorted({str(other) for other in excepted
                         if other.version == network.version and other != network
                         and other.subnet_of(network)})  # type: ignore[arg-type]
        blocks.append({"cidr": str(network), **({"except": inside} if inside else {})})
    return blocks


def _pod_storage_mb(ephemeral_mb: int) -> int:
    return ephemeral_mb + TASK_MB + LOG_MB


def _resources(settings: KubernetesSettings, *, memory_mb: int, ephemeral_mb: int) -> Manifest:
    amounts = {"memory": f"{memory_mb}Mi", "cpu": f"{settings.millicpu(memory_mb)}m",
               "ephemeral-storage": f"{_pod_storage_mb(ephemeral_mb)}Mi"}
    return {"requests": amounts, "limits": dict(amounts)}


def _check_pod(settings: KubernetesSettings, *, memory_mb: int, ephemeral_mb: int, key_sha256: str,
               host_port: int | None) -> None:
    if not MEMORY_MB[0] <= memory_mb <= MEMORY_MB[1]:
        raise ValueError(f"memory is {MEMORY_MB[0]} to {MEMORY_MB[1]} MB, got {memory_mb}")
    if not EPHEMERAL_MB[0] <= ephemeral_mb <= EPHEMERAL_MB[1]:
        raise ValueError(f"ephemeral storage is {EPHEMERAL_MB[0]} to {EPHEMERAL_MB[1]} MB, got {ephemeral_mb}")
    if not re.fullmatch(r"[0-9a-f]{64}", key_sha256):
        raise ValueError("key_sha256 is a sha256 in 64 lower-case hex digits")
    if (host_port is not None) != settings.host_network:
        raise ValueError("a host port is given exactly when the pods share the node's network (host_network)")
    first, last = settings.host_ports
    if host_port is not None and not first <= host_port <= last:
        raise ValueError(f"host port {host_port} is outside {first}-{last}")
