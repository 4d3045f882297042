"""etcd, kube-apiserver, kube-controller-manager and kube-scheduler on loopback ports of their own.

Everything a cluster needs is made in the test bed's folder: a CA and the API server's serving
certificate (for 127.0.0.1, localhost and the in-cluster names), the service-account signing key,
a static token per identity (the admin in ``system:masters``; the controller manager, the scheduler
and the node as the users Kubernetes' bootstrap RBAC roles are written for) and a kubeconfig for
each. Authorization is Node,RBAC as on a real cluster. ``--endpoint-reconciler-type=none``: a
loopback advertise address makes the ``kubernetes`` Endpoints invalid, and the reconciler would
say so every ten seconds.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import secrets
import ssl
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.k8s.processes import Daemon, free_port, http_ok

ETCD = "/usr/bin/etcd"
SERVICE_CIDR = "10.96.0.0/16"  # addresses the API server allocates to Services; no traffic goes there
NODE_NAME = "testbed-node"


@dataclass(frozen=True)
class Identity:
    """A static-token user of the API server."""

    name: str
    user: str
    groups: tuple[str, ...] = ()
    token: str = field(default_factory=lambda: secrets.token_hex(16))


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def _certificate(*, subject: str, key: rsa.RSAPrivateKey, issuer: x509.Certificate | None = None,
                 issuer_key: rsa.RSAPrivateKey | None = None) -> x509.Certificate:
    """A CA certificate when ``issuer`` is None, else a serving certificate it signs."""
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (x509.CertificateBuilder().subject_name(name).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2)))
    if issuer is None:
        builder = builder.issuer_name(name).add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        return builder.sign(key, hashes.SHA256())
    in_cluster = ("kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local")
    names: list[x509.GeneralName] = [x509.DNSName(dns) for dns in ("localhost", *in_cluster)]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", "10.96.0.1")]
    builder = (builder.issuer_name(issuer.subject).add_extension(x509.SubjectAlternativeName(names), False)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), True))
    assert issuer_key is not None
    return builder.sign(issuer_key, hashes.SHA256())


class ControlPlane:
    """A one-node cluster's control plane in ``root``; ``start()``, then ``stop()``."""

    def __init__(self, *, bin_dir: Path, root: Path) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.pki = root / "pki"
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.identities = {identity.name: identity for identity in (
            Identity("admin", "lambent-testbed-admin", ("system:masters",)),
            Identity("controller-manager", "system:kube-controller-manager"),
            Identity("scheduler", "system:kube-scheduler"),
            Identity("kubelet", f"system:node:{NODE_NAME}", ("system:nodes",)),
        )}
        self.daemons: list[Daemon] = []

    @property
    def ca_file(self) -> Path:
        return self.pki / "ca.crt"

    def kubeconfig(self, name: str = "admin") -> Path:
        return self.root / f"{name}.kubeconfig"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def get(self, path: str) -> dict[str, Any]:
        """``GET path`` as the admin, for the harness's own waits (tests use the client)."""
        request = urllib.request.Request(self.url + path,
                                         headers={"Authorization": f"Bearer {self.identities['admin'].token}"})
        with urllib.request.urlopen(request, timeout=5, context=self.ssl_context()) as response:
            return dict(json.load(response))

    def start(self) -> ControlPlane:
        self._write_files()
        self._start_etcd()
        self._start_apiserver()
        self._start_controllers()
        return self

    def stop(self) -> None:
        for daemon in reversed(self.daemons):
            daemon.stop()
        self.daemons.clear()

    def _write_files(self) -> None:
        self.pki.mkdir(parents=True, exist_ok=True, mode=0o700)
        ca_key, serving_key, sa_key = _key(), _key(), _key()
        ca = _certificate(subject="lambent-testbed-ca", key=ca_key)
        serving = _certificate(subject="kube-apiserver", key=serving_key, issuer=ca, issuer_key=ca_key)
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        (self.pki / "apiserver.crt").write_bytes(serving.public_bytes(serialization.Encoding.PEM))
        (self.pki / "apiserver.key").write_bytes(_pem_key(serving_key))
        (self.pki / "sa.key").write_bytes(_pem_key(sa_key))
        (self.pki / "sa.pub").write_bytes(sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        (self.pki / "tokens.csv").write_text("".join(
            f'{i.token},{i.user},{i.user},"{",".join(i.groups)}"\n' for i in self.identities.values()))
        for name in self.identities:
            self._write_kubeconfig(name)

    def _write_kubeconfig(self, name: str) -> None:
        """JSON, which is YAML too: every client reads it."""
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "testbed",
            "clusters": [{"name": "testbed", "cluster": {
                "server": self.url,
                "certificate-authority-data": base64.b64encode(self.ca_file.read_bytes()).decode()}}],
            "users": [{"name": name, "user": {"token": self.identities[name].token}}],
            "contexts": [{"name": "testbed", "context": {"cluster": "testbed", "user": name}}],
        }
        path = self.kubeconfig(name)
        path.write_text(json.dumps(config, indent=2))
        path.chmod(0o600)

    def _daemon(self, name: str, args: list[str]) -> Daemon:
        daemon = Daemon(name, args, log_dir=self.root)
        self.daemons.append(daemon)
        return daemon

    def _start_etcd(self) -> None:
        client, peer = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
        self.etcd_url = client
        etcd = self._daemon("etcd", [
            ETCD, "--name=testbed", f"--data-dir={self.root / 'etcd'}",
            f"--listen-client-urls={client}", f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=testbed={peer}", "--initial-cluster-state=new", "--log-level=warn"])
        etcd.wait_ready(lambda: http_ok(f"{client}/health"), timeout=30)

    def _start_apiserver(self) -> None:
        pki = self.pki
        self._apiserver_args = [
            str(self.bin_dir / "kube-apiserver"), f"--etcd-servers={self.etcd_url}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={self.port}",
            "--insecure-port=0", "--endpoint-reconciler-type=none",
            f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--token-auth-file={pki / 'tokens.csv'}", "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction", "--anonymous-auth=false",
            f"--service-account-key-file={pki / 'sa.pub'}", f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--service-account-issuer=https://kubernetes.default.svc", f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--allow-privileged=false", "--profiling=false"]
        self.apiserver = self._daemon("kube-apiserver", self._apiserver_args)
        self._wait_apiserver()

    def _wait_apiserver(self) -> None:
        context, token = self.ssl_context(), self.identities["admin"].token
        self.apiserver.wait_ready(lambda: http_ok(f"{self.url}/readyz", context=context, token=token), timeout=90)

    def restart_apiserver(self) -> None:
        """Kill the API server and start it again on the same port and etcd: its watch cache starts
        anew from the current resourceVersion, as after any restart of a real one. (A graceful stop
        waits up to a minute for the controllers' watches to end.)"""
        self.apiserver.stop(timeout=0)
        index = self.daemons.index(self.apiserver)
        self.apiserver = self.daemons[index] = Daemon("kube-apiserver", self._apiserver_args, log_dir=self.root)
        self._wait_apiserver()

    def _start_controllers(self) -> None:
        insecure = ssl._create_unverified_context()  # their serving certificates are self-made at start
        manager_port, scheduler_port = free_port(), free_port()
        manager = self._daemon("kube-controller-manager", [
            str(self.bin_dir / "kube-controller-manager"), f"--kubeconfig={self.kubeconfig('controller-manager')}",
            "--port=0", f"--secure-port={manager_port}", "--bind-address=127.0.0.1", "--leader-elect=false",
            "--use-service-account-credentials", f"--service-account-private-key-file={self.pki / 'sa.key'}",
            f"--root-ca-file={self.ca_file}", f"--cert-dir={self.root / 'controller-manager'}",
            # No node IPAM (no pod network), no certificate signing, no cloud.
            "--controllers=*,-nodeipam,-csrsigning,-service,-cloud-node-lifecycle"])
        scheduler = self._daemon("kube-scheduler", [
            str(self.bin_dir / "kube-scheduler"), f"--kubeconfig={self.kubeconfig('scheduler')}",
            "--port=0", f"--secure-port={scheduler_port}", "--bind-address=127.0.0.1", "--leader-elect=false",
            f"--cert-dir={self.root / 'scheduler'}"])
        manager.wait_ready(lambda: http_ok(f"https://127.0.0.1:{manager_port}/healthz", context=insecure), timeout=60)
        scheduler.wait_ready(lambda: http_ok(f"https://127.0.0.1:{scheduler_port}/healthz", context=insecure),
                             timeout=60)
