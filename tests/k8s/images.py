"""Container images made on this machine, without a registry: OCI image archives for ``ctr import``.

An image here is one uncompressed layer (a tar of the given files) with its config, manifest and
an ``index.json`` that names it (``io.containerd.image.name``), which is all containerd needs to
import and unpack it. The test bed makes two: the pod sandbox's ``pause`` (built from the
Kubernetes source by tools/k8s-testbed/build) and a busybox one whose ``httpd`` the tests serve
from.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import tarfile
from dataclasses import dataclass
from pathlib import Path

ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


@dataclass(frozen=True)
class Entry:
    """One file of a layer: bytes copied from ``source``, or a symlink to ``link``, or a folder."""

    path: str
    source: Path | None = None
    link: str | None = None
    mode: int = 0o755


def _layer(entries: list[Entry]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.path.lstrip("/"))
            info.mode, info.mtime = entry.mode, 0
            if entry.link is not None:
                info.type, info.linkname = tarfile.SYMTYPE, entry.link
                tar.addfile(info)
            elif entry.source is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                data = entry.source.read_bytes()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _blob(blobs: dict[str, bytes], data: bytes, media_type: str) -> dict[str, object]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def write_image(archive: Path, *, name: str, entries: list[Entry], entrypoint: list[str]) -> Path:
    """Write the OCI image ``name`` (e.g. ``localhost/lambent-testbed/busybox:1``) to ``archive``."""
    blobs: dict[str, bytes] = {}
    layer = _layer(entries)
    config = {"architecture": ARCH, "os": "linux",
              "config": {"Entrypoint": entrypoint, "WorkingDir": "/"},
              "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}
    manifest = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": _blob(blobs, json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json"),
        "layers": [_blob(blobs, layer, "application/vnd.oci.image.layer.v1.tar")],
    }
    descriptor = _blob(blobs, json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
    descriptor["platform"] = {"architecture": ARCH, "os": "linux"}
    descriptor["annotations"] = {"io.containerd.image.name": name,
                                 "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1]}
    files = {"oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
             "index.json": json.dumps({"schemaVersion": 2, "manifests": [descriptor]}).encode()}
    files |= {f"blobs/sha256/{digest.split(':', 1)[1]}": data for digest, data in blobs.items()}
    with tarfile.open(archive, "w") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return archive


def pause_image(archive: Path, *, name: str, pause: Path) -> Path:
    return write_image(archive, name=name, entries=[Entry("/pause", source=pause)], entrypoint=["/pause"])


def busybox_image(archive: Path, *, name: str, busybox: Path = Path("/bin/busybox")) -> Path:
    """Debian's static busybox with its ``sh`` and ``httpd`` applets, and a page to serve in /www."""
    page = archive.with_suffix(".html")
    page.write_text("hello from a pod of the Lambent test bed\n")
    entries = [Entry("/bin", mode=0o755), Entry("/bin/busybox", source=busybox),
               Entry("/bin/sh", link="busybox"), Entry("/bin/httpd", link="busybox"),
               Entry("/www", mode=0o755), Entry("/www/index.html", source=page, mode=0o644),
               Entry("/tmp", mode=0o1777)]
    return write_image(archive, name=name, entries=entries, entrypoint=["/bin/busybox"])
