"""Frames read incrementally, from whatever pieces a non-blocking socket hands over."""

from .protocol import LENGTH_BYTES, MAX_BODY_BYTES, MAX_HEADER_BYTES, ProtocolError, decode_header


class FrameReader:
    """Feed it bytes as they come; ``next_frame()`` gives each complete frame once.

    A length over the protocol's limits is refused as soon as its four bytes are in, before
    anything of what it announces is buffered.
    """

    def __init__(self, *, max_header_bytes: int = MAX_HEADER_BYTES, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self._buffer = bytearray()
        self._max_header_bytes = max_header_bytes
        self._max_body_bytes = max_body_bytes

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def take_rest(self) -> bytes:
        """What is buffered beyond the frames taken, handed to another reader."""
        rest, self._buffer = bytes(self._buffer), bytearray()
        return rest

    def next_frame(self) -> "tuple[dict, bytes] | None":
        buffer = self._buffer
        if len(buffer) < LENGTH_BYTES:
            return None
        header_end = LENGTH_BYTES + int.from_bytes(buffer[:LENGTH_BYTES], "big")
        if header_end - LENGTH_BYTES > self._max_header_bytes:
            raise ProtocolError(f"frame header of {header_end - LENGTH_BYTES} bytes exceeds {self._max_header_bytes}")
        body_start = header_end + LENGTH_BYTES
        if len(buffer) < body_start:
            return None
        body_length = int.from_bytes(buffer[header_end:body_start], "big")
        if body_length > self._max_body_bytes:
            raise ProtocolError(f"frame body of {body_length} bytes exceeds {self._max_body_bytes}")
        end = body_start + body_length
        if len(buffer) < end:
            return None
        header = decode_header(bytes(buffer[LENGTH_BYTES:header_end]))
        body = bytes(buffer[body_start:end])
        del buffer[:end]
        return header, body
