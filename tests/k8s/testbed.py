"""A real Kubernetes on this machine: control plane on loopback, and a node that runs pods.

``Testbed`` starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler, then (with
``node=True``) containerd and a kubelet, all in one temporary folder; ``stop()`` ends every process,
unmounts and removes what they made, and leaves the machine as it was. The binaries come from
``tools/k8s-testbed/build``, which builds them once per machine and prints where they are.

Run by hand, it stays up until interrupted and says how to reach it::

    .venv/bin/python -m tests.k8s.testbed [--no-node]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.k8s.control_plane import ControlPlane
from tests.k8s.node import Node

BUILD = Path(__file__).resolve().parents[2] / "tools" / "k8s-testbed" / "build"
UNSUPPORTED = 3  # the build script's exit status where this machine cannot host the test bed


class Unavailable(Exception):
    """This machine cannot host the test bed (not root, not Debian): the reason, for a skip."""


def binaries() -> Path:
    """The folder of the built binaries, building them first if this machine never has."""
    if os.geteuid() != 0:
        raise Unavailable("the Kubernetes test bed needs root (apt, containerd, the kubelet)")
    if not Path("/etc/debian_version").exists():
        raise Unavailable("the Kubernetes test bed is built from Debian's kubernetes source package")
    result = subprocess.run([str(BUILD)], capture_output=True, text=True)
    if result.returncode == UNSUPPORTED:
        raise Unavailable(result.stderr.strip().splitlines()[-1])
    if result.returncode != 0:
        raise RuntimeError(f"{BUILD} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


class Testbed:
    """The control plane, started by ``start()``; the node, by ``start_node()`` once it is needed."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, *, bin_dir: Path) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="lambent-k8s-"))
        self.control_plane = ControlPlane(bin_dir=bin_dir, root=self.root)
        self.node: Node | None = None

    @property
    def kubeconfig(self) -> Path:
        return self.control_plane.kubeconfig()

    def start(self) -> Testbed:
        try:
            self.control_plane.start()
        except BaseException:
            self.stop()
            raise
        return self

    def start_node(self) -> Node:
        if self.node is None:
            (self.root / "node").mkdir()
            self.node = Node(control_plane=self.control_plane, root=self.root / "node")
            try:
                self.node.start()
            except BaseException:
                self.stop_node()
                raise
        return self.node

    def stop_node(self) -> None:
        if self.node is not None:
            self.node.stop()
            self.node = None

    def stop(self) -> None:
        try:
            self.stop_node()
        finally:
            self.control_plane.stop()
            shutil.rmtree(self.root, ignore_errors=True)

    def logs(self) -> str:
        """The tail of every daemon's log, for a failure's report."""
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
                         for path in sorted(self.root.rglob("*.log")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-node", action="store_true", help="the control plane only, no kubelet")
    arguments = parser.parse_args()
    # Stopped by a signal, it still takes everything down (a background job ignores SIGINT).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    started = time.monotonic()
    testbed = Testbed(bin_dir=binaries()).start()
    try:
        if not arguments.no_node:
            testbed.start_node()
        print(f"up in {time.monotonic() - started:.1f} s: export KUBECONFIG={testbed.kubeconfig}"
              "  (Ctrl-C or SIGTERM stops it)")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        testbed.stop()

if __name__ == "__main__":
    main()
