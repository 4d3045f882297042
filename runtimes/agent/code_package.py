"""Specializing a sandbox with code it fetches itself: a zip, downloaded, checked, unpacked in the task root.

The platform's ``specialize`` frame names the package: ``{"url", "sha256", "max_bytes"}``. The agent
downloads it into a file without a name (``O_TMPFILE`` in the task root: nothing to leave behind),
checks its SHA-256, and unpacks it into the task root, which must be empty. What the zip says is
not trusted: an entry must be a folder or a regular file (no symlink, device or pipe) inside the
root (no absolute path, no ``..``); the real inflated bytes are counted against ``max_bytes`` while
they are inflated, and each entry's size and CRC must be the ones declared. File modes are kept
(the permission bits only, so an executable ``bootstrap`` stays executable; no setuid). On any
failure, everything written is removed and the root is empty again.

Our own reader of the zip format (stored and deflated entries, zip64) rather than ``zipfile``,
which imports ``re``, ``shutil``, ``threading`` and more (~40 ms here) on a sandbox's cold path.
Imported only when a ``specialize`` frame comes (see ``supervisor``).
"""

import posix
import time
import zlib

from .digest import sha256
from .fetch import FetchError, fetch

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

_READ_BYTES = 256 * 1024
UNPACK_TIMEOUT_S = 30.0
_MAX_DIRECTORY_BYTES = 64 << 20  # the central directory, read whole: ~1 million entries
_DEFAULT_FILE_MODE, _DEFAULT_FOLDER_MODE = 0o644, 0o755
_UNIX = 3  # the "version made by" host system whose external attributes hold a st_mode
_FILE, _FOLDER, _SYMLINK = 0o100000, 0o040000, 0o120000


class PackageError(Exception):
    """The package cannot be unpacked: the message says why."""


class Entry:
    __slots__ = ("name", "folder", "mode", "method", "crc", "compressed", "size", "offset")

    def __init__(self, *, name: str, folder: bool, mode: int, method: int, crc: int, compressed: int,
                 size: int, offset: int) -> None:
        self.name, self.folder, self.mode, self.method = name, folder, mode, method
        self.crc, self.compressed, self.size, self.offset = crc, compressed, size, offset


def specialize(code: object, *, task_root: str) -> "str | None":
    """Fetch and unpack the package ``code`` describes into ``task_root``; None, or what went wrong."""
    try:
        url, digest, max_bytes = _check(code)
        if posix.listdir(task_root):
            return "specialize: the task root is not empty"
        package = _download(url, digest=digest, max_bytes=max_bytes, task_root=task_root)
    except (FetchError, PackageError) as error:
        return f"specialize: {error}"
    except OSError as error:
        return f"specialize: {error.strerror or error}"
    try:
        _unpack(package, root=task_root, budget=max_bytes, deadline=time.monotonic() + UNPACK_TIMEOUT_S)
    except (PackageError, OSError, zlib.error, UnicodeDecodeError) as error:
        _empty(task_root)
        message = getattr(error, "strerror", None) or error
        return f"specialize: the package cannot be unpacked: {message}"
    finally:
        posix.close(package)
    return None


def _check(code: object) -> "tuple[str, str, int]":
    if not isinstance(code, dict):
        raise PackageError("code must be an object")
    url, digest, max_bytes = code.get("url"), code.get("sha256"), code.get("max_bytes")
    if not isinstance(url, str):
        raise PackageError("code.url must be a string")
    if not isinstance(digest, str) or len(digest) != 64 or not frozenset("0123456789abcdef").issuperset(digest.lower()):
        raise PackageError("code.sha256 must be 64 hex digits")
    if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes <= 0:
        raise PackageError("code.max_bytes must be a positive integer")
    return url, digest.lower(), max_bytes


def _download(url: str, *, digest: str, max_bytes: int, task_root: str) -> int:
    """The package in a file of its own, read from its start; checked against ``digest``."""
    package = posix.open(task_root, posix.O_TMPFILE | posix.O_RDWR | posix.O_CLOEXEC, 0o600)
    try:
        hash = sha256()
        fetch(url, into=package, hash=hash, max_bytes=max_bytes)
        if hash.hexdigest() != digest:
            raise PackageError(f"the package's SHA-256 is {hash.hexdigest()}, not {digest}")
    except BaseException:
        posix.close(package)
        raise
    return package


# Reading the zip.

def _read(fd: int, offset: int, size: int) -> bytes:
    data = posix.pread(fd, size, offset)
    if len(data) != size:
        raise PackageError("the zip is truncated")
    return data


def _number(data: bytes, start: int, size: int) -> int:
    return int.from_bytes(data[start:start + size], "little")


def _entries(fd: int) -> "list[Entry]":
    """The entries of the central directory, in its order."""
    file_size = posix.fstat(fd).st_size
    tail_size = min(file_size, 22 + 0xFFFF)
    tail = _read(fd, file_size - tail_size, tail_size)
    end = tail.rfind(b"PK\x05\x06")
    if end < 0 or len(tail) - end < 22:
        raise PackageError("not a zip: no end of central directory")
    end_offset = file_size - tail_size + end
    count, directory_size = _number(tail, end + 10, 2), _number(tail, end + 12, 4)
    directory_offset = _number(tail, end + 16, 4)
    if count == 0xFFFF or 0xFFFFFFFF in (directory_size, directory_offset):
        count, directory_size, directory_offset = _zip64_end(fd, end_offset)
    if directory_size > _MAX_DIRECTORY_BYTES or directory_offset + directory_size > end_offset:
        raise PackageError("the zip's central directory is out of bounds")
    directory = _read(fd, directory_offset, directory_size)
    entries, at = [], 0
    for _ in range(count):
        entry, at = _central_entry(directory, at)
        entries.append(entry)
    return entries


def _zip64_end(fd: int, end_offset: int) -> "tuple[int, int, int]":
    locator = _read(fd, end_offset - 20, 20) if end_offset >= 20 else b""
    if not locator.startswith(b"PK\x06\x07"):
        raise PackageError("the zip64 end of central directory is missing")
    record = _read(fd, _number(locator, 8, 8), 56)
    if not record.startswith(b"PK\x06\x06"):
        raise PackageError("the zip64 end of central directory is malformed")
    return _number(record, 32, 8), _number(record, 40, 8), _number(record, 48, 8)


def _central_entry(directory: bytes, at: int) -> "tuple[Entry, int]":
    header = directory[at:at + 46]
    if len(header) < 46 or not header.startswith(b"PK\x01\x02"):
        raise PackageError("the zip's central directory is malformed")
    flags, method = _number(header, 8, 2), _number(header, 10, 2)
    name_size, extra_size, comment_size = _number(header, 28, 2), _number(header, 30, 2), _number(header, 32, 2)
    raw_name = directory[at + 46:at + 46 + name_size]
    extra = directory[at + 46 + name_size:at + 46 + name_size + extra_size]
    if flags & 0x1:
        raise PackageError(f"{raw_name!r} is encrypted")
    name = raw_name.decode("utf-8" if flags & 0x800 else "cp437")
    sizes = [_number(header, 24, 4), _number(header, 20, 4), _number(header, 42, 4)]  # size, compressed, offset
    _zip64_sizes(extra, sizes)
    folder, mode = _kind(name, made_by=_number(header, 4, 2) >> 8, attributes=_number(header, 38, 4))
    entry = Entry(name=name, folder=folder, mode=mode, method=method, crc=_number(header, 16, 4),
                  compressed=sizes[1], size=sizes[0], offset=sizes[2])
    return entry, at + 46 + name_size + extra_size + comment_size


def _zip64_sizes(extra: bytes, sizes: "list[int]") -> None:
    """Replace the sizes and offset saturated at 0xFFFFFFFF with those of the zip64 extra field."""
    at = 0
    while at + 4 <= len(extra):
        kind, size = _number(extra, at, 2), _number(extra, at + 2, 2)
        if kind == 0x0001:
            field, read = extra[at + 4:at + 4 + size], 0
            for index, value in enumerate(sizes):
                if value == 0xFFFFFFFF:
                    if read + 8 > len(field):
                        raise PackageError("the zip64 extra field is truncated")
                    sizes[index], read = _number(field, read, 8), read + 8
            return
        at += 4 + size


def _kind(name: str, *, made_by: int, attributes: int) -> "tuple[bool, int]":
    """Whether the entry is a folder, and its permission bits; ``PackageError`` for any other kind."""
    mode = attributes >> 16 if made_by == _UNIX else 0
    kind = mode & 0o170000
    if kind == _SYMLINK:
        raise PackageError(f"{name!r} is a symbolic link")
    folder = name.endswith("/") or kind == _FOLDER or (not mode and (attributes & 0x10) != 0)  # MS-DOS's folder bit
    if kind not in (0, _FILE, _FOLDER) or (kind == _FILE and folder):
        raise PackageError(f"{name!r} is neither a regular file nor a folder")
    if not mode & 0o777:
        return folder, _DEFAULT_FOLDER_MODE if folder else _DEFAULT_FILE_MODE
    return folder, mode & 0o777


def _parts(name: str) -> "list[str]":
    """The entry's path, as folders and name below the root; ``PackageError`` if it would leave it."""
    if name.startswith("/") or "\0" in name:
        raise PackageError(f"{name!r} is not a relative path")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise PackageError(f"{name!r} leaves the task root")
    return parts


# Writing the entries.

def _unpack(fd: int, *, root: str, budget: int, deadline: float) -> None:
    entries = _entries(fd)
    if sum(entry.size for entry in entries) > budget:
        raise PackageError(f"its entries say they hold more than {budget} bytes")
    folders: dict[str, int] = {}  # their modes, set once everything inside is written
    written = 0
    for entry in entries:
        parts = _parts(entry.name)
        if not parts:
            continue
        path = _make_folders(root, parts[:-1] if not entry.folder else parts)
        if entry.folder:
            folders[path] = entry.mode
            continue
        written += _write_file(fd, entry, path=f"{path}/{parts[-1]}", budget=budget - written)
        if time.monotonic() > deadline:
            raise PackageError("unpacking took too long")
    for path in sorted(folders, key=lambda folder: folder.count("/"), reverse=True):
        posix.chmod(path, folders[path])


def _make_folders(root: str, parts: "list[str]") -> str:
    path = root
    for part in parts:
        path = f"{path}/{part}"
        try:
            posix.mkdir(path, _DEFAULT_FOLDER_MODE)
        except FileExistsError:
            if posix.lstat(path).st_mode & 0o170000 != _FOLDER:
                raise PackageError(f"{path[len(root) + 1:]!r} is both a file and a folder") from None
    return path


def _write_file(fd: int, entry: Entry, *, path: str, budget: int) -> int:
    """Inflate ``entry`` into a new file at ``path``; the bytes written, never more than ``budget``."""
    local = _read(fd, entry.offset, 30)
    if not local.startswith(b"PK\x03\x04"):
        raise PackageError(f"{entry.name!r} has no local header")
    start = entry.offset + 30 + _number(local, 26, 2) + _number(local, 28, 2)
    if entry.method not in (0, 8):
        raise PackageError(f"{entry.name!r} is compressed with method {entry.method}, not stored or deflated")
    try:
        out = posix.open(path, posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL | posix.O_NOFOLLOW | posix.O_CLOEXEC,
                         0o600)
    except FileExistsError:
        raise PackageError(f"{entry.name!r} comes twice") from None
    try:
        size, crc = _inflate(fd, entry, start=start, out=out, budget=budget)
        posix.fchmod(out, entry.mode)
    finally:
        posix.close(out)
    if size != entry.size or crc != entry.crc:
        raise PackageError(f"{entry.name!r} is not the {entry.size} bytes its CRC and size say")
    return size


def _inflate(fd: int, entry: Entry, *, start: int, out: int, budget: int) -> "tuple[int, int]":
    inflater = zlib.decompressobj(-15) if entry.method == 8 else None
    size, crc, offset, end = 0, 0, start, start + entry.compressed
    while offset < end or (inflater is not None and not inflater.eof):
        chunk = posix.pread(fd, min(_READ_BYTES, end - offset), offset) if offset < end else b""
        if offset < end and not chunk:
            raise PackageError(f"{entry.name!r} is truncated")
        offset += len(chunk)
        for data in _inflated(inflater, chunk):
            size += len(data)
            if size > budget:
                raise PackageError("it inflates to more than max_bytes")
            crc = zlib.crc32(data, crc)
            _write_all(out, data)
        if inflater is not None and offset >= end and not inflater.eof:
            raise PackageError(f"{entry.name!r} ends in the middle of its deflated data")
    return size, crc


def _inflated(inflater: "zlib._Decompress | None", chunk: bytes) -> "Iterator[bytes]":
    """What ``chunk`` inflates to, piece by piece of ``_READ_BYTES`` at most: a bomb is counted, and
    stopped, as it inflates, never inflated whole first."""
    if inflater is None:
        if chunk:
            yield chunk
        return
    data = chunk
    while True:
        piece = inflater.decompress(data, _READ_BYTES)
        if piece:
            yield piece
        data = inflater.unconsumed_tail
        if inflater.eof or (not data and len(piece) < _READ_BYTES):  # a full piece: more may be pending
            return


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[posix.write(fd, view):]


def _empty(root: str) -> None:
    """Remove everything in ``root`` (which was empty before): no half-written package is left."""
    for name in posix.listdir(root):
        _remove(f"{root}/{name}")


def _remove(path: str) -> None:
    if posix.lstat(path).st_mode & 0o170000 == _FOLDER:
        posix.chmod(path, 0o700)  # a folder's own mode may have been set already
        for name in posix.listdir(path):
            _remove(f"{path}/{name}")
        posix.rmdir(path)
    else:
        posix.unlink(path)
