"""Zip archives read without believing what they say about themselves.

A zip's central directory states the size of every file, and a crafted one lies: 1,000 bytes
said, 300 MB inflated. Nothing here trusts it. Every entry is inflated and its bytes are counted
as they come out, and reading stops at the first limit broken: the unzipped total
(``limits.CODE_UNZIPPED_MAX_BYTES``, Lambda's 250 MB), the number of entries (each is an inode
on every node that runs the code, and a bomb of empty entries costs nothing to send), and the
ratio of inflated to compressed bytes of one entry, which code and data stay far below and a
bomb far above. Paths that would land outside the archive's root are refused too.

The same reader checks an upload (the bytes are counted, then dropped) and unpacks code on a
node (``into`` a folder), so what passed at upload unpacks, and a package stored before these
limits existed fails to unpack with the same message. Django-free: the executor uses it.
"""

from __future__ import annotations

import io
import os
import posixpath
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from lambent.functions import limits

#: Entries (files and folders) one package may hold.
MAX_ENTRIES = 20_000
#: How many times its compressed size one entry may inflate to, past ``RATIO_GRACE_BYTES``.
MAX_RATIO = 100
RATIO_GRACE_BYTES = 1024 * 1024
_CHUNK = 256 * 1024
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


class ArchiveError(ValueError):
    """The package is not a zip, or breaks a limit; the message says which, for the package's owner."""


@dataclass(frozen=True)
class Contents:
    files: frozenset[str]
    unzipped_size: int


def read(data: bytes, *, into: Path | None = None) -> Contents:
    """Inflate every entry of the zip in ``data``, counting; with ``into``, write the tree there
    (file modes kept: an executable ``bootstrap`` stays one)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if len(members) > MAX_ENTRIES:
                raise ArchiveError(f"The zip holds {len(members)} entries; the limit is {MAX_ENTRIES}.")
            unsafe = [member.filename for member in members if _escapes(member.filename)]
            if unsafe:
                raise ArchiveError(f"The zip holds paths outside its root: {', '.join(unsafe[:5])}.")
            odd = [member.filename for member in members if member.compress_type not in _METHODS]
            if odd:
                raise ArchiveError(f"The zip holds entries neither stored nor deflated: {', '.join(odd[:5])}.")
            total = 0
            for member in members:
                total = _inflate(archive, member, total=total, into=into)
    except ArchiveError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, RuntimeError, ValueError) as exc:
        raise ArchiveError(f"Not a valid zip archive: {exc}.") from None  # RuntimeError: an encrypted entry
    except (IsADirectoryError, NotADirectoryError, FileExistsError):
        raise ArchiveError("The zip holds a file and a folder of the same name.") from None
    return Contents(files=frozenset(member.filename for member in members if not member.is_dir()),
                    unzipped_size=total)


def _inflate(archive: zipfile.ZipFile, member: zipfile.ZipInfo, *, total: int, into: Path | None) -> int:
    """``total`` plus the bytes ``member`` really inflates to, written under ``into`` if given."""
    target = into / member.filename if into is not None else None
    if member.is_dir():
        if target is not None:
            target.mkdir(parents=True, exist_ok=True)
            os.chmod(target, 0o755)
        return total
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with archive.open(member) as source, (open(target, "wb") if target is not None else io.BytesIO()) as sink:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if total + written > limits.CODE_UNZIPPED_MAX_BYTES:
                raise ArchiveError(f"The zip unpacks to more than {limits.CODE_UNZIPPED_MAX_BYTES} bytes, the limit.")
            if written > RATIO_GRACE_BYTES and written > MAX_RATIO * max(member.compress_size, 1):
                raise ArchiveError(f"{member.filename} inflates more than {MAX_RATIO} times its compressed size: "
                                   "not a code package but a zip bomb.")
            if target is not None:
                sink.write(chunk)
    if target is not None:
        executable = (member.external_attr >> 16) & 0o111
        os.chmod(target, 0o755 if executable else 0o644)
    return total + written


def _escapes(name: str) -> bool:
    normalized = posixpath.normpath(name.replace("\\", "/"))
    return name.startswith(("/", "\\")) or normalized == ".." or normalized.startswith("../") or "\x00" in name
