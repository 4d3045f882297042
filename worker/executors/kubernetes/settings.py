"""What the Kubernetes backend is configured with, read once from Django's settings.

``lambent.settings`` reads the ``LAMBENT_KUBERNETES_*`` variables as plain values, so an
installation that never runs this backend pays nothing for them. ``KubernetesSettings.
from_settings()`` checks them the first time the backend is built and says which variable is
wrong: a namespace pattern that makes no valid name, a label that Kubernetes would refuse, a
network that is not one. The object is frozen: the manifest builders of ``objects`` take it as
their one source of configuration, and tests build one with the fields they need.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NoReturn

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from lambent.env import parse_bind

#: A label value: at most 63 characters, alphanumeric at both ends, ``-_.`` inside.
LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")
#: A label key: an optional DNS-subdomain prefix and ``/``, then a name as a label value's.
LABEL_KEY = re.compile(r"([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
#: A namespace's name (a DNS label).
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


@dataclass(frozen=True, kw_only=True)
class KubernetesSettings:
    """The Kubernetes backend's configuration; each field is the ``LAMBENT_KUBERNETES_*`` variable
    of the same name (the README's settings table says more)."""

    #: A kubeconfig file; None: the in-cluster configuration (the executor pod's service account).
    kubeconfig: str | None = None
    #: The kubeconfig's context; None: its current one.
    context: str | None = None
    #: Each tenant's namespace, ``{account_id}`` replaced by its 12 digits.
    namespace_pattern: str = "lambent-{account_id}"
    #: The ``lambent.dev/installation`` label's value on all the executor makes.
    installation: str = "lambent"
    #: Where the platform runs: the executor's Lease, and the only pods that may reach agents.
    platform_namespace: str = "lambent-system"
    #: The labels of those pods.
    platform_pod_selector: Mapping[str, str] = field(default_factory=lambda: {"app.kubernetes.io/name": "lambent"})
    #: The image of each runtime named; the others run ``image_pattern`` with ``{runtime}`` replaced.
    images: Mapping[str, str] = field(default_factory=dict)
    image_pattern: str = "lambent/runtime:{runtime}"
    #: Generic pods kept ready per pool (tenant namespace, runtime, memory and storage size), by
    #: runtime; ``pool_size`` for runtimes not named.
    pool_sizes: Mapping[str, int] = field(default_factory=dict)
    pool_size: int = 1
    #: The sandbox pods' RuntimeClass; None: the cluster's default runtime.
    runtime_class: str | None = None
    #: Secrets the kubelet pulls images with; each must exist in every tenant namespace.
    image_pull_secrets: tuple[str, ...] = ()
    #: The port the agents listen on for the platform.
    agent_port: int = 8080
    #: Test clusters without a pod network only: pods on the node's network, each agent on a
    #: 127.0.0.1 port of ``host_ports`` (first, last).
    host_network: bool = False
    host_ports: tuple[int, int] = (30000, 32767)
    #: ``hostUsers: false`` on sandbox pods (Kubernetes 1.25+, nodes that support user namespaces).
    user_namespaces: bool = False
    #: Networks sandboxes may reach, less the excepted ones (and the cluster's) inside them.
    egress_allowed: tuple[str, ...] = ("0.0.0.0/0",)
    egress_except: tuple[str, ...] = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
                                      "100.64.0.0/10")
    cluster_networks: tuple[str, ...] = ()
    #: Where the executor serves code packages (``host:port``), and the base URL pods fetch them from.
    code_bind: str = "0.0.0.0:8081"
    code_url: str
    #: CPU millicores per 1,024 MB of memory (Lambda: one vCPU at 1,769 MB).
    millicpu_per_gb: int = 579
    #: Seconds a new pod has to become Ready.
    pod_start_seconds: float = 120.0

    def __post_init__(self) -> None:
        _check_settings(self)

    @classmethod
    def from_settings(cls) -> KubernetesSettings:
        if not settings.KUBERNETES_CODE_URL:
            raise ImproperlyConfigured("LAMBENT_KUBERNETES_CODE_URL must be set for the Kubernetes backend: the "
                                       "base URL sandbox pods fetch code packages from")
        return cls(
            kubeconfig=settings.KUBERNETES_KUBECONFIG,
            context=settings.KUBERNETES_CONTEXT,
            namespace_pattern=settings.KUBERNETES_NAMESPACE_PATTERN,
            installation=settings.KUBERNETES_INSTALLATION,
            platform_namespace=settings.KUBERNETES_PLATFORM_NAMESPACE,
            platform_pod_selector=dict(settings.KUBERNETES_PLATFORM_POD_SELECTOR),
            images=dict(settings.KUBERNETES_IMAGES),
            image_pattern=settings.KUBERNETES_IMAGE_PATTERN,
            pool_sizes=_pool_sizes(settings.KUBERNETES_POOL_SIZES),
            pool_size=settings.KUBERNETES_POOL_SIZE,
            runtime_class=settings.KUBERNETES_RUNTIME_CLASS,
            image_pull_secrets=tuple(settings.KUBERNETES_IMAGE_PULL_SECRETS),
            agent_port=settings.KUBERNETES_AGENT_PORT,
            host_network=settings.KUBERNETES_HOST_NETWORK,
            host_ports=_port_range(settings.KUBERNETES_HOST_PORTS),
            user_namespaces=settings.KUBERNETES_USER_NAMESPACES,
            egress_allowed=tuple(settings.KUBERNETES_EGRESS_ALLOWED),
            egress_except=tuple(settings.KUBERNETES_EGRESS_EXCEPT),
            cluster_networks=tuple(settings.KUBERNETES_CLUSTER_NETWORKS),
            code_bind=settings.KUBERNETES_CODE_BIND,
            code_url=settings.KUBERNETES_CODE_URL,
            millicpu_per_gb=settings.KUBERNETES_MILLICPU_PER_GB,
            pod_start_seconds=settings.KUBERNETES_POD_START_SECONDS,
        )

    def namespace(self, account_id: str) -> str:
        """The namespace of a tenant's pods."""
        return self.namespace_pattern.format(account_id=account_id)

    def image(self, runtime: str) -> str:
        return self.images.get(runtime) or self.image_pattern.format(runtime=runtime)

    def pool_size_of(self, runtime: str) -> int:
        """Generic pods kept ready in each pool of ``runtime``."""
        return self.pool_sizes.get(runtime, self.pool_size)

    def millicpu(self, memory_mb: int) -> int:
        """The CPU of a pod of ``memory_mb``, in millicores (at least one), rounded down: the CPU of
        pods added up never exceeds that of their memory added up, which the ResourceQuota holds."""
        return max(1, memory_mb * self.millicpu_per_gb // 1024)


def _check_settings(config: KubernetesSettings) -> None:
    """Refuses, naming the variable, what Kubernetes would refuse later or what makes no sense."""
    if "{account_id}" not in config.namespace_pattern:
        _refuse("NAMESPACE_PATTERN", "must hold {account_id}", config.namespace_pattern)
    try:
        sample = config.namespace("123456789012")
    except (KeyError, IndexError, ValueError):
        _refuse("NAMESPACE_PATTERN", "may name no field but {account_id}", config.namespace_pattern)
    if not DNS_LABEL.fullmatch(sample):
        _refuse("NAMESPACE_PATTERN", "must make a DNS label (a-z, 0-9, '-', at most 63)", config.namespace_pattern)
    if not DNS_LABEL.fullmatch(config.platform_namespace):
        _refuse("PLATFORM_NAMESPACE", "must be a namespace's name", config.platform_namespace)
    if not config.installation or not LABEL_VALUE.fullmatch(config.installation):
        _refuse("INSTALLATION", "must be a label value (at most 63 of A-Z a-z 0-9 - _ .)", config.installation)
    if not config.platform_pod_selector:
        _refuse("PLATFORM_POD_SELECTOR", "must name at least one label", "")
    for key, value in config.platform_pod_selector.items():
        if not LABEL_KEY.fullmatch(key) or not LABEL_VALUE.fullmatch(value):
            _refuse("PLATFORM_POD_SELECTOR", "must be valid label keys and values", f"{key}={value}")
    if "{runtime}" not in config.image_pattern:
        _refuse("IMAGE_PATTERN", "must hold {runtime}", config.image_pattern)
    if not 0 < config.agent_port < 65536:
        _refuse("AGENT_PORT", "must be a port", str(config.agent_port))
    first, last = config.host_ports
    if not 0 < first <= last < 65536:
        _refuse("HOST_PORTS", "must be first-last, ports in order", f"{first}-{last}")
    for name, networks in (("EGRESS_ALLOWED", config.egress_allowed), ("EGRESS_EXCEPT", config.egress_except),
                           ("CLUSTER_NETWORKS", config.cluster_networks)):
        for network in networks:
            try:
                ipaddress.ip_network(network)
            except ValueError as error:
                _refuse(name, f"must be networks in CIDR notation ({error})", network)
    try:
        parse_bind(config.code_bind)
    except ImproperlyConfigured:
        _refuse("CODE_BIND", "must be host:port", config.code_bind)
    if not config.code_url.startswith(("http://", "https://")):
        _refuse("CODE_URL", "must be an http:// or https:// URL", config.code_url)


def _refuse(name: str, rule: str, value: str) -> NoReturn:
    raise ImproperlyConfigured(f"LAMBENT_KUBERNETES_{name} {rule}, got {value!r}")


def _pool_sizes(raw: Mapping[str, str]) -> dict[str, int]:
    sizes = {}
    for runtime, size in raw.items():
        if not size.isdigit():
            _refuse("POOL_SIZES", "must map runtimes to whole numbers", f"{runtime}={size}")
        sizes[runtime] = int(size)
    return sizes


def _port_range(raw: str) -> tuple[int, int]:
    first, separator, last = raw.partition("-")
    if not separator or not first.strip().isdigit() or not last.strip().isdigit():
        _refuse("HOST_PORTS", "must be first-last", raw)
    return int(first), int(last)
