"""Function code unpacked on this node, once per sha256, for sandboxes to mount read-only.

Concurrent cold starts of one version share one extraction. A zip is unpacked into a
staging folder and renamed into place, so a half-written tree is never mounted; file
modes recorded in the zip are kept (a ``bootstrap`` stays executable) and everything is
readable by the unprivileged sandbox uids. It is unpacked by ``lambent.functions.archives``,
counting what every entry really inflates to: a package that breaks its limits (one stored
before they existed) raises ``ArchiveError`` after at most that much work, and nothing of it
is kept, so every cold start of it fails the same way, as the function's init error.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from lambent.functions import archives


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
            archives.read(self._source(sha256), into=staging)
            os.chmod(staging, 0o755)
            os.rename(staging, target)
        except archives.ArchiveError:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not target.is_dir():  # not a lost race with another process: a real failure
                raise
        return target
