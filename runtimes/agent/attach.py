"""The platform attaching over TCP (``--listen``, as in a pod): a key proves a connection is the platform's.

An inherited Unix socket (``--socket-fd``) is out of everyone's reach but the platform's; a TCP port
is not: whoever reaches it can connect. So until the platform is attached, every connection must
open with ``{"op": "attach", "key": K}``. The agent knows only sha256(K), as 64 hex digits in
``LAMBENT_AGENT_KEY_SHA256``, which it takes out of its environment before anything is forked (see
``hardening.forget``), and compares digests in constant time. The first connection with the right
key is the platform's: it is greeted with ``ready``, as on a Unix socket, and the connections still
waiting are closed. One whose first frame is anything else, or whose key is wrong, is closed
without an answer, and the agent goes on waiting.

Strangers cannot hold the door: at most ``MAX_WAITING`` connections wait for their first frame (one
more closes the oldest), and a first frame may have a header of ``MAX_ATTACH_BYTES`` at most and no
body (a longer one is refused from its length alone, before it is read).

The key itself arrives after the standby is forked, so no runtime ever holds a copy of it; the
digest the standby's copy of the agent's memory may hold tells nothing of the key.
"""

import _operator

from .frames import FrameReader
from .loop import Loop, Stream
from .protocol import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    from collections.abc import Callable

KEY_DIGEST_VARIABLE = "LAMBENT_AGENT_KEY_SHA256"
MAX_WAITING = 4
MAX_ATTACH_BYTES = 4096
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def key_digest(value: "str | None") -> bytes:
    """The digest ``LAMBENT_AGENT_KEY_SHA256`` holds; ``ValueError`` unless it is 64 hex digits."""
    if value is None:
        raise ValueError(f"{KEY_DIGEST_VARIABLE} must be set with --listen")
    if len(value) != 64 or not _HEX_DIGITS.issuperset(value):
        raise ValueError(f"{KEY_DIGEST_VARIABLE} must be a SHA-256 digest: 64 hex digits")
    return bytes.fromhex(value)


class Doorman:
    """Holds the connections that have not attached yet; hands the platform's over once it has."""

    def __init__(self, *, loop: Loop, digest: bytes, on_attached: "Callable[[Stream, bytes], None]") -> None:
        self._loop = loop
        self._digest = digest
        self._on_attached = on_attached  # the platform's stream, and what it sent after its attach frame
        self._waiting: dict[Stream, FrameReader] = {}  # oldest first

    def admit(self, sock: "_socket.socket") -> None:
        if len(self._waiting) >= MAX_WAITING:
            self._drop(next(iter(self._waiting)))
        frames = FrameReader(max_header_bytes=MAX_ATTACH_BYTES, max_body_bytes=0)
        stream: Stream

        def on_data(data: bytes) -> None:
            self._on_data(stream, frames, data)

        def on_close() -> None:
            self._waiting.pop(stream, None)

        stream = Stream(self._loop, sock, on_data=on_data, on_close=on_close)
        self._waiting[stream] = frames

    def _on_data(self, stream: Stream, frames: FrameReader, data: bytes) -> None:
        if stream not in self._waiting:  # dropped while the loop still read what it had sent
            return
        frames.feed(data)
        try:
            frame = frames.next_frame()
        except ProtocolError:
            return self._drop(stream)
        if frame is None:
            return
        header, _ = frame
        if header.get("op") != "attach" or not self._matches(header.get("key")):
            return self._drop(stream)
        del self._waiting[stream]
        for stranger in list(self._waiting):
            self._drop(stranger)
        self._on_attached(stream, frames.take_rest())

    def _matches(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        from .digest import sha256

        hash = sha256()
        hash.update(key.encode(errors="surrogateescape"))
        return _operator._compare_digest(hash.digest(), self._digest)

    def _drop(self, stream: Stream) -> None:
        self._waiting.pop(stream, None)
        stream.close()
