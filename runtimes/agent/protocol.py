"""Frames between the platform and a sandbox's agent, over one stream socket.

A frame is a JSON header and an opaque body, each preceded by its length as a 4-byte
big-endian unsigned integer:

    | len(header) | header (UTF-8 JSON object) | len(body) | body (bytes) |

Payloads travel as the body, never inside the JSON, so a 6 MB event is not base64'd.
Standard library only: this module runs inside sandboxes and in the platform alike. It
imports neither ``json`` nor ``socket`` (see ``fastjson``): both are dear at an agent's start.
"""

from . import fastjson

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket

LENGTH_BYTES = 4
MAX_HEADER_BYTES = 1 << 20
MAX_BODY_BYTES = 64 << 20


class ProtocolError(Exception):
    """The peer sent something that is not a frame, or closed mid-frame."""


def encode(header: dict, body: bytes = b"") -> bytes:
    raw = fastjson.dumps(header).encode()
    return b"".join((len(raw).to_bytes(LENGTH_BYTES, "big"), raw, len(body).to_bytes(LENGTH_BYTES, "big"), body))


def send(sock: "socket.socket", header: dict, body: bytes = b"") -> None:
    sock.sendall(encode(header, body))


def _read_exactly(sock: "socket.socket", size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise ProtocolError("connection closed mid-frame" if chunks or size != remaining else "connection closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _read_length(sock: "socket.socket", limit: int) -> int:
    length = int.from_bytes(_read_exactly(sock, LENGTH_BYTES), "big")
    if length > limit:
        raise ProtocolError(f"frame part of {length} bytes exceeds {limit}")
    return length


def receive(sock: "socket.socket") -> tuple[dict, bytes]:
    """One frame from a blocking socket. ``ProtocolError`` if the peer closed or lied."""
    header = decode_header(_read_exactly(sock, _read_length(sock, MAX_HEADER_BYTES)))
    return header, _read_exactly(sock, _read_length(sock, MAX_BODY_BYTES))


def decode_header(raw: bytes) -> dict:
    try:
        header = fastjson.loads(raw)
    except ValueError:
        raise ProtocolError("frame header is not JSON") from None
    if not isinstance(header, dict):
        raise ProtocolError("frame header is not a JSON object")
    return header


async def receive_from(reader) -> tuple[dict, bytes]:  # type: ignore[no-untyped-def]
    """One frame from an ``asyncio.StreamReader`` (duck-typed: asyncio is not imported here)."""
    try:
        length = int.from_bytes(await reader.readexactly(LENGTH_BYTES), "big")
        if length > MAX_HEADER_BYTES:
            raise ProtocolError(f"frame header of {length} bytes exceeds {MAX_HEADER_BYTES}")
        header = decode_header(await reader.readexactly(length))
        length = int.from_bytes(await reader.readexactly(LENGTH_BYTES), "big")
        if length > MAX_BODY_BYTES:
            raise ProtocolError(f"frame body of {length} bytes exceeds {MAX_BODY_BYTES}")
        return header, await reader.readexactly(length)
    except EOFError as exc:  # asyncio.IncompleteReadError is an EOFError
        raise ProtocolError("connection closed") from exc
