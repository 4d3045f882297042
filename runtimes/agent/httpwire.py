"""HTTP/1.1 as the Runtime API needs it: requests parsed incrementally, responses built in one piece.

Enough of RFC 9112 for every runtime client (awslambdaric, aws-lambda-ric, curl, urllib, Go's
net/http): keep-alive and pipelining, ``Content-Length`` and chunked bodies, ``Expect:
100-continue``. What falls outside is refused with the status a server owes it:

    HttpError            400 malformed, 431 head too large, 501 transfer coding not supported
    └── BodyTooLarge     413, raised from the head alone, before the body is read

A response is built as one ``bytes`` so it leaves in one send: headers and body in separate
writes meet Nagle's algorithm and the peer's delayed ACK (a 40 ms stall per request).
"""

MAX_HEAD_BYTES = 64 * 1024
#: Lambda's limit on a response (and on a synchronous event): 6 MiB and 100 bytes.
MAX_BODY_BYTES = 6_291_556
_MAX_LINE_BYTES = 4096  # a chunk-size or trailer line
_HEX_DIGITS = b"0123456789abcdefABCDEF"
_JSON = (("Content-Type", "application/json"),)
REASONS = {
    100: "Continue",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
}
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class HttpError(Exception):
    """A request this server cannot take; answer ``status`` and close the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class BodyTooLarge(HttpError):
    """A body over ``MAX_BODY_BYTES``: refused with what the head said it was for."""

    def __init__(self, *, method: str, path: str) -> None:
        super().__init__(413, f"a body over {MAX_BODY_BYTES} bytes")
        self.method = method
        self.path = path


class Request:
    """One complete request. ``headers`` has lower-case names; repeated fields are joined with ", "."""

    __slots__ = ("method", "path", "headers", "body", "keep_alive")

    def __init__(self, *, method: str, path: str, headers: dict[str, str], body: bytes, keep_alive: bool) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.keep_alive = keep_alive


class _Head:
    __slots__ = ("method", "path", "headers", "keep_alive", "expect_continue", "length")

    def __init__(self, raw: bytes) -> None:
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[0] or not parts[1] or parts[2] not in ("HTTP/1.1", "HTTP/1.0"):
            raise HttpError(400, f"malformed request line {lines[0][:100]!r}")
        self.method, target, version = parts
        self.path = target.partition("?")[0]
        self.headers = headers = _parse_fields(lines[1:])
        tokens = {token.strip() for token in headers.get("connection", "").lower().split(",")}
        self.keep_alive = "close" not in tokens if version == "HTTP/1.1" else "keep-alive" in tokens
        self.expect_continue = version == "HTTP/1.1" and headers.get("expect", "").lower() == "100-continue"
        self.length = self._length(headers)

    def _length(self, headers: dict[str, str]) -> "int | None":
        """The body's length, or None when it comes chunked."""
        coding = headers.get("transfer-encoding")
        if coding is not None:
            if coding.lower() != "chunked":
                raise HttpError(501, f"transfer coding {coding!r} is not supported")
            return None
        length = headers.get("content-length", "0")
        if not (length.isascii() and length.isdigit()):
            raise HttpError(400, f"malformed Content-Length {length[:40]!r}")
        if int(length) > MAX_BODY_BYTES:
            raise BodyTooLarge(method=self.method, path=self.path)
        return int(length)


def _parse_fields(lines: list[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name or " " in name or "\t" in name:  # obs-fold lines start with blanks
            raise HttpError(400, f"malformed header line {line[:100]!r}")
        name = name.lower()
        value = value.strip(" \t")
        fields[name] = f"{fields[name]}, {value}" if name in fields else value
    return fields


class RequestReader:
    """Feed it bytes as they come; ``next_request()`` gives each complete request once, in order."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._scanned = 0  # how far the buffer was searched for the end of a head
        self._head: _Head | None = None
        self._continue = False
        # A chunked body in progress: where parsing stands in the buffer, the data so far, the
        # size of the chunk being read (None: a size line comes next), whether trailers come.
        self._position = 0
        self._body = bytearray()
        self._chunk: int | None = None
        self._trailers = False

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next_request(self) -> "Request | None":
        """The next complete request, None until one is in; ``HttpError`` if the peer broke HTTP."""
        if self._head is None and not self._read_head():
            return None
        head = self._head
        assert head is not None
        body = self._read_chunked(head) if head.length is None else self._read_sized(head.length)
        if body is None:
            return None
        self._head = None
        self._continue = False
        return Request(method=head.method, path=head.path, headers=head.headers, body=body, keep_alive=head.keep_alive)

    def take_continue(self) -> bool:
        """True, once, when a request's head asked for ``100 Continue`` and its body is not all in."""
        wanted = self._continue and self._head is not None
        self._continue = False
        return wanted

    def _read_head(self) -> bool:
        buffer = self._buffer
        while buffer[:2] == b"\r\n":  # stray line ends between requests are tolerated (RFC 9112 2.2)
            del buffer[:2]
        end = buffer.find(b"\r\n\r\n", max(self._scanned - 3, 0))
        if end < 0:
            if len(buffer) > MAX_HEAD_BYTES:
                raise HttpError(431, f"a request head over {MAX_HEAD_BYTES} bytes")
            self._scanned = len(buffer)
            return False
        if end > MAX_HEAD_BYTES:
            raise HttpError(431, f"a request head over {MAX_HEAD_BYTES} bytes")
        self._head = _Head(bytes(buffer[:end]))
        del buffer[: end + 4]
        self._scanned = 0
        self._continue = self._head.expect_continue
        return True

    def _read_sized(self, length: int) -> "bytes | None":
        buffer = self._buffer
        if len(buffer) < length:
            return None
        body = bytes(buffer[:length])
        del buffer[:length]
        return body

    def _read_chunked(self, head: _Head) -> "bytes | None":
        buffer = self._buffer
        while True:
            if self._chunk is not None:
                end = self._position + self._chunk
                if len(buffer) < end + 2:
                    return None
                if buffer[end : end + 2] != b"\r\n":
                    raise HttpError(400, "a chunk longer than its size")
                self._body += buffer[self._position : end]
                self._position, self._chunk = end + 2, None
                continue
            line = self._line()
            if line is None:
                return None
            if self._trailers:
                if not line:
                    return self._finish_chunked()
                continue  # trailer fields carry nothing the Runtime API uses
            size = line.partition(b";")[0].strip(b" \t")
            if not size or len(size) > 16 or size.strip(_HEX_DIGITS):
                raise HttpError(400, f"malformed chunk size {line[:40]!r}")
            self._chunk = int(size, 16) or None
            self._trailers = self._chunk is None
            if len(self._body) + (self._chunk or 0) > MAX_BODY_BYTES:
                raise BodyTooLarge(method=head.method, path=head.path)

    def _line(self) -> "bytes | None":
        end = self._buffer.find(b"\r\n", self._position)
        if end < 0:
            if len(self._buffer) - self._position > _MAX_LINE_BYTES:
                raise HttpError(400, "a chunk-size or trailer line too long")
            return None
        line = bytes(self._buffer[self._position : end])
        self._position = end + 2
        return line

    def _finish_chunked(self) -> bytes:
        body = bytes(self._body)
        del self._buffer[: self._position]
        self._position, self._body, self._trailers = 0, bytearray(), False
        return body


def response(
    status: int,
    body: bytes = b"",
    *,
    headers: "tuple[tuple[str, str], ...] | list[tuple[str, str]] | None" = None,
    close: bool = False,
) -> bytes:
    """A whole response; ``headers`` default to a JSON content type, ``Content-Length`` is added."""
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}"]
    lines += [f"{name}: {value}" for name, value in (_JSON if headers is None else headers)]
    lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + body
