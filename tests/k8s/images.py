"""Container images made on this machine, without a registry: OCI image archives for ``ctr import``.

An image here is one uncompressed layer (a tar of the given files) with its config, manifest and
an ``index.json`` that names it (``io.containerd.image.name``), which is all containerd needs to
import and unpack it. The test bed makes three: the pod sandbox's ``pause`` (built from the
Kubernetes source by tools/k8s-testbed/build), a busybox one whose ``httpd`` the tests serve from,
and the runtime image a sandbox pod runs: the host's Python and the repository's ``runtimes/``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

RUNTIMES_DIR = Path(__file__).resolve().parents[2] / "runtimes"
#: What of the standard library a sandbox never needs: test suites, the static library and its build
#: files, the tools to install packages or to port Python 2 code.
STDLIB_SKIPPED = frozenset({"test", "tests", "idle_test", "idlelib", "tkinter", "turtledemo", "ensurepip",
                            "lib2to3", "pydoc_data", "site-packages", "dist-packages"})
ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


@dataclass(frozen=True)
class Entry:
    """One file of a layer: bytes copied from ``source``, or a symlink to ``link``, or a folder."""

    path: str
    source: Path | None = None
    link: str | None = None
    mode: int = 0o755
    mtime: int = 0  # a source file's, so that its byte-compiled file stays valid


def _layer(entries: list[Entry]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.path.lstrip("/"))
            info.mode, info.mtime = entry.mode, entry.mtime
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


def write_image(archive: Path, *, name: str, entries: list[Entry], entrypoint: list[str],
                env: list[str] | None = None) -> Path:
    """Write the OCI image ``name`` (e.g. ``localhost/lambent-testbed/busybox:1``) to ``archive``."""
    blobs: dict[str, bytes] = {}
    layer = _layer(entries)
    config = {"architecture": ARCH, "os": "linux",
              "config": {"Entrypoint": entrypoint, "WorkingDir": "/", **({"Env": env} if env else {})},
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


def runtime_image(archive: Path, *, name: str, python: Path = Path("/usr/bin/python3.11")) -> Path:
    """The host's ``python`` (its standard library without test suites, the shared libraries it and its
    extension modules load) and the repository's ``runtimes/`` at ``/var/runtime``, byte-compiled:
    ``/var/runtime`` is read-only in a pod, and a module compiled at each import would cost every
    start. A pod runs ``python3 -I -S /var/runtime/agent/__main__.py ...`` (``python3`` is ``python``)."""
    stdlib = Path(subprocess.run([str(python), "-I", "-S", "-c", "import os; print(os.path.dirname(os.__file__))"],
                                 capture_output=True, text=True, check=True).stdout.strip())
    subprocess.run([str(python), "-I", "-S", "-m", "compileall", "-q", str(RUNTIMES_DIR)], check=True,
                   capture_output=True, timeout=120)
    files: dict[str, Entry] = {}
    for top in ("bin", "lib", "lib32", "lib64", "libx32", "sbin"):  # a merged /usr's links, as on the host
        if Path("/", top).is_symlink():
            files[f"/{top}"] = Entry(f"/{top}", link=os.readlink(Path("/", top)))
    _add_file(files, python)
    files[f"{python.parent}/python3"] = Entry(f"{python.parent}/python3", link=python.name)  # as any Python image
    for path in _tree(stdlib):
        _add_file(files, path)
    for path in _tree(RUNTIMES_DIR):
        _add_file(files, path, at=f"/var/runtime/{path.relative_to(RUNTIMES_DIR)}")
    for library in _shared_libraries([python, *stdlib.glob("lib-dynload/*.so")]):
        _add_library(files, library)
    for folder, mode in (("/tmp", 0o1777), ("/var/task", 0o755)):
        files[folder] = Entry(folder, mode=mode)
    entries = _with_parents(files)
    return write_image(archive, name=name, entries=entries, env=["PATH=/usr/local/bin:/usr/bin:/bin"],
                       entrypoint=[python.name, "-I", "-S", "/var/runtime/agent/__main__.py"])


def _tree(root: Path) -> list[Path]:
    """The files under ``root`` an interpreter reads: sources, this interpreter's byte code, extension
    modules, data; not the folders of ``STDLIB_SKIPPED``, nor the build configuration."""
    found = []
    for folder, folders, names in os.walk(root):
        folders[:] = [name for name in folders if name not in STDLIB_SKIPPED and not name.startswith("config-")]
        in_cache = folder.endswith("/__pycache__")
        found += [Path(folder, name) for name in names
                  if not in_cache or (".cpython-311." in name and ".opt-" not in name)]
    return found


def _add_file(files: dict[str, Entry], path: Path, *, at: str | None = None) -> None:
    at = at or str(path)
    if path.is_symlink():
        files[at] = Entry(at, link=os.readlink(path))
        return
    status = path.stat()
    files[at] = Entry(at, source=path, mode=status.st_mode & 0o7777, mtime=int(status.st_mtime))


def _shared_libraries(binaries: list[Path]) -> set[Path]:
    """What the dynamic loader maps for ``binaries``, as ``ldd`` lists it (the loader included)."""
    output = subprocess.run(["ldd", *map(str, binaries)], capture_output=True, text=True, check=False).stdout
    libraries = set()
    for line in output.splitlines():
        words = line.replace("=>", " ").split()
        paths = [word for word in words if word.startswith("/")]
        if line.startswith("\t") and paths and "not found" not in line:
            libraries.add(Path(paths[-1]))
    return libraries


def _add_library(files: dict[str, Entry], library: Path) -> None:
    """The library's file where its links lead, and a link where the loader looks for it."""
    target = Path(os.path.realpath(library))
    _add_file(files, target)
    named = Path(os.path.realpath(library.parent)) / library.name
    if named != target:
        files[str(named)] = Entry(str(named), link=str(target))


def _with_parents(files: dict[str, Entry]) -> list[Entry]:
    """Every folder above the entries first, shortest paths first, so that a layer unpacks in order."""
    folders = {str(parent) for path in files for parent in Path(path).parents if str(parent) != "/"}
    for folder in folders - files.keys():
        files[folder] = Entry(folder, mode=0o755)
    return [files[path] for path in sorted(files, key=lambda path: (path.count("/"), path))]
