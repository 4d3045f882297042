"""Function code unpacked on this node, once per sha256, for sandboxes to mount read-only.

Concurrent cold starts of one version share one extraction. A zip is unpacked into a
staging folder and renamed into place, so a half-written tree is never mounted; file
modes recorded in the zip are kept (a ``bootstrap`` stays executable) and everything is
readable by the unprivileged sandbox uids.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path


class CodeCache:
    def __init__(self, *, root: Path, source: Callable[[str], bytes]) -> None:
        self._root = root
        self._source = source
        self._pending: dict[str, asyncio.Future[Path]] = {}

    async def path(self, sha256: str) -> Path:
        """The folder holding the unpacked code with this sha256."""
        target = self._root / sha256
        if target.is_dir():
            return target
        pending = self._pending.get(sha256)
        if pending is None:
            pending = asyncio.ensure_future(asyncio.to_thread(self._unpack, sha256, target))
            self._pending[sha256] = pending
            pending.add_done_callback(lambda _: self._pending.pop(sha256, None))
        return await asyncio.shield(pending)

    def _unpack(self, sha256: str, target: Path) -> Path:
        self._root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{sha256[:12]}-", dir=self._root))
        try:
            with zipfile.ZipFile(io.BytesIO(self._source(sha256))) as archive:
                for member in archive.infolist():
                    extracted = Path(archive.extract(member, staging))
                    mode = (member.external_attr >> 16) & 0o777
                    executable = mode & 0o111 and not member.is_dir()
                    os.chmod(extracted, 0o755 if member.is_dir() or executable else 0o644)
            os.chmod(staging, 0o755)
            os.rename(staging, target)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not target.is_dir():  # not a lost race with another process: a real failure
                raise
        return target
