"""The agent's event loop: one thread, ``select.poll``, a callback per file descriptor.

Not asyncio nor selectors: importing either costs milliseconds at every sandbox start, for a
process that watches a handful of descriptors. Every descriptor the agent holds is registered
here with a way to close it, so a forked runtime can shed them all (``close_all``).
"""

import _socket
import select
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

POLLIN = select.POLLIN
POLLOUT = select.POLLOUT
READ_BYTES = 64 * 1024  # under glibc's mmap threshold: a read's buffer comes from the heap
_READS_PER_TURN = 16  # then let the other descriptors have a turn
_LONGEST_POLL_MS = 3_600_000  # poll's timeout is a C int: a later timer is waited for an hour at a time


class Loop:
    def __init__(self) -> None:
        self._poll = select.poll()
        self._handlers: dict[int, Callable[[int], None]] = {}
        self._closers: dict[int, Callable[[], None]] = {}
        self._soon: list[Callable[[], None]] = []
        self._timer: tuple[float, Callable[[], None]] | None = None  # (monotonic time, callback): one at most
        self._running = False

    def watch(self, fd: int, events: int, handler: "Callable[[int], None]", *, close: "Callable[[], None]") -> None:
        """Call ``handler(events)`` when ``fd`` is ready; ``close`` closes it (``close_all`` forgets it first)."""
        self._poll.register(fd, events)
        self._handlers[fd] = handler
        self._closers[fd] = close

    def modify(self, fd: int, events: int) -> None:
        self._poll.modify(fd, events)

    def forget(self, fd: int) -> None:
        """Stop watching ``fd`` (it stays open); nothing if it was not watched."""
        if self._handlers.pop(fd, None) is not None:
            self._poll.unregister(fd)
            del self._closers[fd]

    def close_all(self) -> None:
        """Close every descriptor watched: at the agent's exit, and in a forked runtime."""
        for fd, close in list(self._closers.items()):
            self.forget(fd)
            close()

    def call_soon(self, callback: "Callable[[], None]") -> None:
        """Run ``callback`` once the events at hand are handled."""
        self._soon.append(callback)

    def set_timer(self, when: float, callback: "Callable[[], None]") -> None:
        """Run ``callback`` once at ``when`` (``time.monotonic()``), replacing any timer set before."""
        self._timer = (when, callback)

    def clear_timer(self) -> None:
        self._timer = None

    def run(self) -> None:
        """Until ``stop()``; an exception from a callback ends it too, and propagates."""
        self._running = True
        while self._running:
            for fd, events in self._poll.poll(self._poll_timeout_ms()):
                handler = self._handlers.get(fd)
                if handler is not None:
                    handler(events)
            timer = self._timer
            if timer is not None and time.monotonic() >= timer[0]:
                self._timer = None
                timer[1]()
            while self._soon and self._running:
                self._soon.pop(0)()

    def _poll_timeout_ms(self) -> "int | None":
        if self._soon:
            return 0
        if self._timer is None:
            return None
        return min(_LONGEST_POLL_MS, max(0, int((self._timer[0] - time.monotonic()) * 1000) + 1))

    def stop(self) -> None:
        self._running = False


class Stream:
    """A connected socket in the loop: what it reads goes to ``on_data``, what it cannot send at once
    waits for the socket to drain. ``on_close`` runs when the peer closes or the connection fails."""

    def __init__(
        self,
        loop: Loop,
        sock: "_socket.socket",
        *,
        on_data: "Callable[[bytes], None]",
        on_close: "Callable[[], None]",
    ) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.fd = sock.fileno()
        self.closed = False
        self._loop = loop
        self._on_data = on_data
        self._on_close = on_close
        self._pending: list[memoryview] = []
        self._closing = False  # half-close once everything is sent
        self._written: list[Callable[[], None]] = []  # to call once nothing is left to send
        self._discarding = False  # half-closed: whatever still comes is dropped
        loop.watch(self.fd, POLLIN, self._ready, close=self.close)

    def hand_over(self, *, on_data: "Callable[[bytes], None]", on_close: "Callable[[], None]") -> None:
        """From now on, what it reads goes to ``on_data``, and its end to ``on_close``."""
        self._on_data, self._on_close = on_data, on_close

    def write(self, data: bytes) -> None:
        if self.closed or self._closing:
            return
        if self._pending:
            self._pending.append(memoryview(data))
            return
        try:
            sent = self.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._lost()
            return
        if sent < len(data):
            self._pending.append(memoryview(data)[sent:])
            self._loop.modify(self.fd, POLLIN | POLLOUT)

    def close_when_written(self) -> None:
        """Close gently: send what is queued, half-close, drop what the peer still sends until it closes.

        Closing with unread data in the socket would reset the connection, and the peer would lose
        the response it has not read yet (a 413 sent before the body it refuses).
        """
        self._closing = True
        if not self._pending and not self.closed:
            self._half_close()

    def when_written(self, callback: "Callable[[], None]") -> None:
        """Call ``callback`` once everything written so far is sent (or the connection is lost)."""
        if self._pending and not self.closed:
            self._written.append(callback)
        else:
            callback()

    def read_available(self, *, all_of_it: bool = False) -> None:
        """Read what the socket holds (a few reads' worth, or ``all_of_it``) and hand it on."""
        turns = 0
        while not self.closed and (all_of_it or turns < _READS_PER_TURN):
            turns += 1
            try:
                data = self.sock.recv(READ_BYTES)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._lost()
                return
            if not self._discarding:
                self._on_data(data)
            if len(data) < READ_BYTES:
                return

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._loop.forget(self.fd)
            self.sock.close()

    def _ready(self, events: int) -> None:
        if events & POLLOUT:
            self._flush()
        if events & ~POLLOUT:  # readable, hung up or failed: a read tells which
            self.read_available()

    def _flush(self) -> None:
        while self._pending:
            try:
                sent = self.sock.send(self._pending[0])
            except BlockingIOError:
                return
            except OSError:
                self._lost()
                return
            if sent < len(self._pending[0]):
                self._pending[0] = self._pending[0][sent:]
                return
            self._pending.pop(0)
        if not self.closed:
            self._loop.modify(self.fd, POLLIN)
            if self._closing:
                self._half_close()
        self._call_written()

    def _call_written(self) -> None:
        written, self._written = self._written, []
        for callback in written:
            callback()

    def _half_close(self) -> None:
        self._discarding = True
        try:
            self.sock.shutdown(_socket.SHUT_WR)
        except OSError:
            self._lost()

    def _lost(self) -> None:
        if not self.closed:
            self.close()
            self._loop.call_soon(self._on_close)
            self._call_written()
