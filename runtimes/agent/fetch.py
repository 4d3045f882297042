"""One plain HTTP GET of a function's code, its body streamed to a file, bounded in size and in time.

Not ``http.client`` nor ``urllib``: they import ``email``, ``re`` and more (~30 ms here), which every
sandbox specialized this way would pay on its cold start. The URL is one the platform signed, valid
a short time, served on its own network: so HTTP/1.0 (the body ends at its ``Content-Length``, or
when the server closes; never chunked), no redirects, no TLS, no proxy.
"""

import _socket
import posix
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from _hashlib import HASH

TIMEOUT_S = 30.0
MAX_HEAD_BYTES = 64 * 1024
_READ_BYTES = 256 * 1024
_FORBIDDEN_IN_TARGET = frozenset(" \t\r\n\0")


class FetchError(Exception):
    """The code could not be fetched: the message says why."""


def fetch(url: str, *, into: int, hash: "HASH", max_bytes: int, timeout: float = TIMEOUT_S) -> int:
    """Write the body of ``GET url`` to the descriptor ``into``, feeding ``hash``; its size."""
    host, port, target = split_url(url)
    deadline = time.monotonic() + timeout
    sock = _connect(host, port, deadline=deadline)
    try:
        authority = host if port == 80 else f"{host}:{port}"
        if ":" in host:
            authority = f"[{host}]" if port == 80 else f"[{host}]:{port}"
        request = f"GET {target} HTTP/1.0\r\nHost: {authority}\r\nAccept-Encoding: identity\r\n\r\n"
        sock.sendall(request.encode("ascii"))
        head, rest = _read_head(sock, deadline=deadline)
        length = _content_length(head, max_bytes=max_bytes)
        return _read_body(sock, rest, into=into, hash=hash, length=length, max_bytes=max_bytes, deadline=deadline)
    except TimeoutError:
        raise FetchError(f"no answer from {host}:{port} within {timeout:g} s") from None
    except OSError as error:
        raise FetchError(f"cannot fetch from {host}:{port}: {error.strerror or error}") from None
    finally:
        sock.close()


def split_url(url: str) -> "tuple[str, int, str]":
    """``http://host[:port]/path?query`` as (host, port, request target)."""
    if not url.startswith("http://"):
        raise FetchError("the code's URL must be http://")
    authority, slash, path = url[len("http://"):].partition("/")
    target = ("/" + path.partition("#")[0]) if slash else "/"
    if "@" in authority or _FORBIDDEN_IN_TARGET.intersection(target) or not target.isascii():
        raise FetchError("the code's URL is malformed")
    if authority.startswith("["):
        host, _, port = authority[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, _, port = authority.partition(":")
    if not host or (port and not port.isdigit()) or int(port or 80) > 65535:
        raise FetchError("the code's URL is malformed")
    return host, int(port or 80), target


def _connect(host: str, port: int, *, deadline: float) -> "_socket.socket":
    error: OSError | None = None
    try:
        addresses = _socket.getaddrinfo(host, port, 0, _socket.SOCK_STREAM)
    except OSError as failure:
        raise FetchError(f"cannot resolve {host}: {failure.strerror or failure}") from None
    for family, kind, proto, _, address in addresses:
        sock = _socket.socket(family, kind, proto)
        try:
            sock.settimeout(_remaining(deadline))
            sock.connect(address)
            return sock
        except OSError as failure:
            sock.close()
            error = failure
    raise FetchError(f"cannot connect to {host}:{port}: {getattr(error, 'strerror', None) or error}")


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _recv(sock: "_socket.socket", *, deadline: float) -> bytes:
    sock.settimeout(_remaining(deadline))
    return sock.recv(_READ_BYTES)


def _read_head(sock: "_socket.socket", *, deadline: float) -> "tuple[list[bytes], bytes]":
    """The status line and header lines, and what came after them."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD_BYTES:
            raise FetchError("the code server's answer has too large a head")
        chunk = _recv(sock, deadline=deadline)
        if not chunk:
            raise FetchError("the code server closed the connection without an answer")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = lines[0].split(b" ", 2)
    if len(status) < 2 or not status[0].startswith(b"HTTP/1."):
        raise FetchError("the code server does not speak HTTP")
    if status[1] != b"200":
        raise FetchError(f"the code server answered {lines[0][9:].decode(errors='replace')[:100]}")
    return lines[1:], rest


def _content_length(headers: "list[bytes]", *, max_bytes: int) -> "int | None":
    lengths = set()
    for line in headers:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"transfer-encoding":
            raise FetchError("the code server sent a transfer coding to an HTTP/1.0 request")
        if name == b"content-length":
            lengths.add(value.strip())
    if not lengths:
        return None
    if len(lengths) > 1 or not next(iter(lengths)).isdigit():
        raise FetchError("the code server sent a malformed Content-Length")
    length = int(next(iter(lengths)))
    if length > max_bytes:
        raise FetchError(f"the code is {length} bytes, over the limit of {max_bytes}")
    return length


def _read_body(sock: "_socket.socket", data: bytes, *, into: int, hash: "HASH", length: "int | None",
               max_bytes: int, deadline: float) -> int:
    size = 0
    while True:
        if length is not None:
            data = data[: length - size]
        size += len(data)
        if size > max_bytes:
            raise FetchError(f"the code is over the limit of {max_bytes} bytes")
        hash.update(data)
        _write_all(into, data)
        if size == length:
            return size
        data = _recv(sock, deadline=deadline)
        if not data:
            if length is not None:
                raise FetchError(f"the code server closed the connection after {size} of {length} bytes")
            return size


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[posix.write(fd, view):]
