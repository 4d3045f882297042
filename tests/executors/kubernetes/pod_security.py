"""The Pod Security Standards, control by control, as a function of a pod manifest.

Kubernetes 1.20 (the test bed) has no PodSecurity admission, and no Go validator runs here, so the
tests check the sandbox pod against the standards themselves, as the Kubernetes documentation
("Pod Security Standards", the ``baseline`` and ``restricted`` profiles, version ``latest``) states
them. Each violation names its control and the field that breaks it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

#: Capabilities ``baseline`` lets a container add; ``restricted`` only the last.
BASELINE_CAPABILITIES = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                         "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes"}
SELINUX_TYPES = {None, "", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                      "projected", "secret"}


def containers(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(kind, [])


def baseline(pod: dict[str, Any]) -> list[str]:
    spec, found = pod["spec"], []
    pod_context = spec.get("securityContext", {})
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            found.append(f"host namespaces: spec.{field}")
    if pod_context.get("windowsOptions", {}).get("hostProcess"):
        found.append("HostProcess: spec.securityContext.windowsOptions.hostProcess")
    found += _baseline_context(pod_context, "spec.securityContext", pod_level=True)
    for volume in spec.get("volumes", []):
        if "hostPath" in volume:
            found.append(f"hostPath volumes: {volume['name']}")
    for annotation, value in pod["metadata"].get("annotations", {}).items():
        if annotation.startswith("container.apparmor.security.beta.kubernetes.io/") and value != "runtime/default" \
                and not value.startswith("localhost/"):
            found.append(f"AppArmor: annotation {annotation}")
    for container in containers(spec):
        where = f"container {container['name']}"
        context = container.get("securityContext", {})
        if context.get("privileged"):
            found.append(f"privileged containers: {where}")
        if context.get("windowsOptions", {}).get("hostProcess"):
            found.append(f"HostProcess: {where}")
        added = set(context.get("capabilities", {}).get("add", []))
        if added - BASELINE_CAPABILITIES:
            found.append(f"capabilities: {where} adds {sorted(added - BASELINE_CAPABILITIES)}")
        if context.get("procMount", "Default") != "Default":
            found.append(f"/proc mount type: {where}")
        found += _baseline_context(context, where, pod_level=False)
        for port in container.get("ports", []):
            if port.get("hostPort", 0) != 0 or spec.get("hostNetwork"):
                # With hostNetwork the API server defaults every hostPort to its containerPort.
                found.append(f"host ports: {where} port {port['containerPort']}")
    for sysctl in pod_context.get("sysctls", []):
        if sysctl["name"] not in SAFE_SYSCTLS:
            found.append(f"sysctls: {sysctl['name']}")
    return found


def _baseline_context(context: dict[str, Any], where: str, *, pod_level: bool) -> list[str]:
    found = []
    if context.get("seccompProfile", {}).get("type") == "Unconfined":
        found.append(f"seccomp: {where} is Unconfined")
    if context.get("appArmorProfile", {}).get("type") == "Unconfined":
        found.append(f"AppArmor: {where} is Unconfined")
    selinux = context.get("seLinuxOptions", {})
    if selinux.get("type") not in SELINUX_TYPES or selinux.get("user") or selinux.get("role"):
        found.append(f"SELinux: {where}")
    return found


def restricted(pod: dict[str, Any]) -> list[str]:
    spec, found = pod["spec"], baseline(pod)
    pod_context = spec.get("securityContext", {})
    for volume in spec.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            found.append(f"volume types: {volume['name']} is {sorted(kinds)}")
    if pod_context.get("runAsUser") == 0:
        found.append("running as non-root user: spec.securityContext.runAsUser")
    for container in containers(spec):
        where = f"container {container['name']}"
        context = container.get("securityContext", {})
        if context.get("allowPrivilegeEscalation") is not False:
            found.append(f"privilege escalation: {where}")
        non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
        if non_root is not True:
            found.append(f"running as non-root: {where}")
        if context.get("runAsUser") == 0:
            found.append(f"running as non-root user: {where}")
        seccomp = context.get("seccompProfile", pod_context.get("seccompProfile", {})).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            found.append(f"seccomp: {where} has {seccomp}")
        capabilities = context.get("capabilities", {})
        if "ALL" not in capabilities.get("drop", []):
            found.append(f"capabilities: {where} does not drop ALL")
        if set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}:
            found.append(f"capabilities: {where} adds more than NET_BIND_SERVICE")
    return found
