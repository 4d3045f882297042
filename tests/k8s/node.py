"""The test bed's node: Debian's containerd and runc under a kubelet built from the same source.

What this machine asks of it (FIELD-NOTES, "A real Kubernetes on this machine"):

- ``restrict_oom_score_adj = true``: root here lacks CAP_SYS_RESOURCE, and runc fails to create a
  sandbox whose ``oomScoreAdj`` (-998) is below its own;
- no registry: the sandbox ``pause`` image and the test images (busybox, and the runtime image of
  sandbox pods) are made here and imported;
- cgroupfs, ``cgroupsPerQOS: false``, no node-allocatable enforcement, ``failSwapOn: false``;
- only host-network pods: a pod network would hand out private addresses, which may not be used as
  traffic targets here. The CNI configuration is loopback only, enough for containerd to report
  its network ready. Each pod serves on a 127.0.0.1 port of its own.

One node runs on a machine at a time (a lock says so): kubelets share ``/var/log/pods``, so what
one leaves there is known to be its own. The kubelet tunes a few kernel settings at start; they
are put back at stop; the cgroups, mounts, shim processes and host folders it and its pods made
are removed.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.k8s import images
from tests.k8s.control_plane import NODE_NAME, ControlPlane
from tests.k8s.processes import (
    Daemon,
    TestbedError,
    free_port,
    http_ok,
    kill_pids,
    pids_with_argument,
    unmount_all,
    wait_until,
)

CONTAINERD = "/usr/bin/containerd"
CTR = "/usr/bin/ctr"
CNI_BIN_DIR = "/usr/lib/cni"
NAMESPACE = "k8s.io"  # containerd's namespace for what the CRI plugin runs
PAUSE_IMAGE = "localhost/lambent-testbed/pause:1"
BUSYBOX_IMAGE = "localhost/lambent-testbed/busybox:1"
#: The host's Python 3.11 and the repository's runtimes (the agent): what a sandbox pod runs.
RUNTIME_IMAGE = "localhost/lambent/runtime-python3.11:testbed"
LOCK = Path("/run/lambent-k8s-testbed-node.lock")
POD_LOGS = (Path("/var/log/pods"), Path("/var/log/containers"))
# Made whatever the configuration: by the kubelet 1.20 (its device plugins' socket folder) and by
# containerd 1.6's shims (their sockets).
FIXED_DIRS = (Path("/var/lib/kubelet"), Path("/run/containerd"))
# containerd's CRI puts each container's cgroup at /k8s.io/<id> when the kubelet gives no parent.
CGROUP_PARENT = NAMESPACE
# Set by the kubelet at start unless protectKernelDefaults, which instead refuses other values.
KERNEL_TUNABLES = ("vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
                   "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes")


def _containerd_config(root: Path) -> str:
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{root / 'root'}"
state = "{root / 'state'}"
[grpc]
  address = "{root / 'containerd.sock'}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{root / 'opt'}"
[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = "{root / 'runc'}"
[{cri}.cni]
  bin_dir = "{CNI_BIN_DIR}"
  conf_dir = "{root / 'cni'}"
"""


def _kubelet_config(*, port: int, healthz_port: int) -> dict[str, object]:
    return {
        "kind": "KubeletConfiguration", "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "address": "127.0.0.1", "port": port, "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1", "healthzPort": healthz_port,
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": False}},
        "authorization": {"mode": "AlwaysAllow"},
        "cgroupDriver": "cgroupfs", "cgroupsPerQOS": False, "enforceNodeAllocatable": [],
        "failSwapOn": False, "makeIPTablesUtilChains": False, "serializeImagePulls": False,
        # A disk shared with other work: pressure from it must not evict the test bed's pods.
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
        "nodeStatusUpdateFrequency": "4s",
    }


class Node:
    """containerd and a kubelet registered as ``testbed-node`` with ``control_plane``."""

    def __init__(self, *, control_plane: ControlPlane, root: Path) -> None:
        self.control_plane = control_plane
        self.root = root
        self.name = NODE_NAME
        self.containerd_root = root / "containerd"
        self.socket = self.containerd_root / "containerd.sock"
        self.kubelet_root = root / "kubelet"
        self.daemons: list[Daemon] = []
        self._lock: int | None = None
        self._tunables: dict[str, str] = {}
        self._pod_logs: set[Path] = set()
        self._containers: list[str] = []
        self._absent: list[Path] = []

    def start(self) -> Node:
        self._take_lock()
        self._tunables = {name: Path("/proc/sys", name).read_text() for name in KERNEL_TUNABLES}
        self._pod_logs = {path for folder in POD_LOGS if folder.exists() for path in folder.iterdir()}
        cgroup_parents = [hierarchy / CGROUP_PARENT for hierarchy in Path("/sys/fs/cgroup").iterdir()]
        self._absent = [path for path in (*POD_LOGS, *FIXED_DIRS, *cgroup_parents) if not path.exists()]
        self._start_containerd()
        self._import_images()
        self._start_kubelet()
        return self

    def ctr(self, *args: str) -> str:
        result = subprocess.run([CTR, "--address", str(self.socket), "--namespace", NAMESPACE, *args],
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise TestbedError(f"ctr {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def _take_lock(self, *, timeout: float = 900) -> None:
        """Wait for another test run's node to stop: two kubelets cannot share this machine."""
        self._lock = os.open(LOCK, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            wait_until(self._locked, timeout=timeout, interval=1, what=f"another test bed node to stop ({LOCK})")
        except TestbedError:
            os.close(self._lock)
            self._lock = None
            raise

    def _locked(self) -> bool:
        assert self._lock is not None
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _start_containerd(self) -> None:
        (self.containerd_root / "cni").mkdir(parents=True)
        (self.containerd_root / "cni" / "10-loopback.conflist").write_text(json.dumps(
            {"cniVersion": "0.4.0", "name": "testbed-loopback", "plugins": [{"type": "loopback"}]}))
        config = self.containerd_root / "config.toml"
        config.write_text(_containerd_config(self.containerd_root))
        containerd = Daemon("containerd", [CONTAINERD, "--config", str(config)], log_dir=self.root)
        self.daemons.append(containerd)
        containerd.wait_ready(lambda: self.socket.exists() and self._answers(), timeout=30)

    def _answers(self) -> bool:
        try:
            self.ctr("version")
        except TestbedError:
            return False
        return True

    def _import_images(self) -> None:
        archives = self.root / "images"
        archives.mkdir()
        pause = images.pause_image(archives / "pause.tar", name=PAUSE_IMAGE,
                                   pause=self.control_plane.bin_dir / "pause")
        busybox = images.busybox_image(archives / "busybox.tar", name=BUSYBOX_IMAGE)
        runtime = images.runtime_image(archives / "runtime.tar", name=RUNTIME_IMAGE)
        for archive in (pause, busybox, runtime):
            self.ctr("images", "import", str(archive))

    def _start_kubelet(self) -> None:
        healthz_port = free_port()
        config = self.root / "kubelet-config.json"
        config.write_text(json.dumps(_kubelet_config(port=free_port(), healthz_port=healthz_port)))
        endpoint = f"unix://{self.socket}"
        kubelet = Daemon("kubelet", [
            str(self.control_plane.bin_dir / "kubelet"), f"--config={config}",
            f"--kubeconfig={self.control_plane.kubeconfig('kubelet')}", f"--root-dir={self.kubelet_root}",
            f"--cert-dir={self.root / 'kubelet-pki'}", f"--hostname-override={NODE_NAME}",
            "--container-runtime=remote", f"--container-runtime-endpoint={endpoint}",
            f"--image-service-endpoint={endpoint}", f"--pod-infra-container-image={PAUSE_IMAGE}",
            "--runtime-request-timeout=2m"], log_dir=self.root)
        self.daemons.append(kubelet)
        kubelet.wait_ready(lambda: http_ok(f"http://127.0.0.1:{healthz_port}/healthz"), timeout=60)
        kubelet.wait_ready(self._ready, timeout=90)

    def _ready(self) -> bool:
        """The Node is registered and Ready: the kubelet reached the API server and containerd."""
        try:
            conditions = self.control_plane.get(f"/api/v1/nodes/{self.name}")["status"].get("conditions", [])
        except OSError:
            return False
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    def stop(self) -> None:
        """Stop every container, then the kubelet and containerd, and put back what they changed."""
        if self._lock is None:
            return
        try:
            self._stop_daemons()
            unmount_all(self.root)
            self._remove_cgroups()
            self._remove_host_files()
        finally:
            for name, value in self._tunables.items():
                Path("/proc/sys", name).write_text(value)
            os.close(self._lock)
            self._lock = None

    def _stop_daemons(self) -> None:
        kubelet = [daemon for daemon in self.daemons if daemon.name == "kubelet"]
        for daemon in kubelet:
            daemon.stop()
        try:
            if self.daemons and self.daemons[0].popen.poll() is None:
                self._remove_containers()
        finally:
            for daemon in reversed(self.daemons):
                daemon.stop()
            self.daemons.clear()
            # A shim outlives containerd by design; ours are those started for our socket.
            kill_pids(pids_with_argument(str(self.socket)))

    def _remove_containers(self) -> None:
        self._containers = self.ctr("containers", "list", "--quiet").split()
        for task in self.ctr("tasks", "list", "--quiet").split():
            subprocess.run([CTR, "--address", str(self.socket), "--namespace", NAMESPACE, "tasks", "kill",
                            "--signal", "SIGKILL", task], capture_output=True, check=False)
        for container in self._containers:
            wait_until(functools.partial(self._deleted, container), timeout=30,
                       what=f"container {container} to be deleted")

    def _deleted(self, container: str) -> bool:
        result = subprocess.run([CTR, "--address", str(self.socket), "--namespace", NAMESPACE, "tasks", "delete",
                                 "--force", container], capture_output=True, text=True, check=False)
        if result.returncode != 0 and "not found" not in result.stderr:
            return False
        result = subprocess.run([CTR, "--address", str(self.socket), "--namespace", NAMESPACE, "containers",
                                 "delete", container], capture_output=True, text=True, check=False)
        return result.returncode == 0 or "not found" in result.stderr

    def _remove_cgroups(self) -> None:
        """What runc left of the containers' cgroups (nothing when it deleted them cleanly)."""
        for hierarchy in Path("/sys/fs/cgroup").iterdir():
            for container in self._containers:
                _remove_cgroup(hierarchy / CGROUP_PARENT / container)

    def _remove_host_files(self) -> None:
        """The pods' logs, and what the kubelet and containerd made that was not there before."""
        for folder in POD_LOGS:
            for path in set(folder.iterdir() if folder.exists() else ()) - self._pod_logs:
                _remove(path)
        for path in self._absent:
            if path.is_relative_to("/sys/fs/cgroup"):
                _remove_cgroup(path)
            elif path.exists():
                _remove(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _remove_cgroup(top: Path) -> None:
    """A cgroup and those below it, deepest first, killing what still runs in them (a container's
    process whose shim was killed before it)."""
    if not top.is_dir():
        return
    folders = sorted([top, *top.rglob("*/")], key=lambda path: len(path.parts), reverse=True)
    kill_pids([int(pid) for folder in folders for pid in (folder / "cgroup.procs").read_text().split()])
    for folder in folders:
        folder.rmdir()
