"""The Lambda Runtime API, served over HTTP to the runtime on the sandbox's own loopback.

    GET  /2018-06-01/runtime/invocation/next            the next event; held (parked) until there is one
    POST /2018-06-01/runtime/invocation/{id}/response   202; 400 InvalidRequestID; 409 InvalidStateTransition
    POST /2018-06-01/runtime/invocation/{id}/error      likewise
    POST /2018-06-01/runtime/init/error                 202 while the runtime initializes, 409 afterwards

This module speaks HTTP; what a call means for the sandbox is the supervisor's to decide.
"""

import _socket

from . import httpwire
from .invocation import RESPONSE_TOO_LARGE, error_document
from .loop import POLLIN, Loop, Stream

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .supervisor import Supervisor

PREFIX = "/2018-06-01/runtime/"
ERROR_TYPE_HEADER = "lambda-runtime-function-error-type"
# What the supervisor makes of a runtime's answer, and how the Runtime API replies to it.
ACCEPTED = "accepted"
UNKNOWN_REQUEST = "unknown request"
WRONG_STATE = "wrong state"
_ERROR_TYPES = {404: "NotFound", 405: "MethodNotAllowed", 413: "RequestEntityTooLarge"}
_REPLIES = {
    ACCEPTED: httpwire.response(202, b'{"status":"OK"}'),
    UNKNOWN_REQUEST: httpwire.response(400, error_document("InvalidRequestID", "Invalid request ID")),
    WRONG_STATE: httpwire.response(
        409, error_document("InvalidStateTransition", "The invocation or the init is answered already")
    ),
}


class RuntimeApi:
    """The listener and the runtime's connections."""

    def __init__(self, *, loop: Loop, listener: "_socket.socket", supervisor: "Supervisor") -> None:
        self._loop = loop
        self._listener = listener
        self._supervisor = supervisor
        self._connections: set[Connection] = set()
        listener.setblocking(False)
        loop.watch(listener.fileno(), POLLIN, self._accept, close=listener.close)

    def drain(self) -> None:
        """Take in everything the runtime has sent: before its exit is acted upon, in case it
        answered just before it died."""
        for connection in list(self._connections):
            connection.stream.read_available(all_of_it=True)

    def handle(self, connection: "Connection", request: httpwire.Request) -> None:
        supervisor = self._supervisor
        route = request.path[len(PREFIX) :] if request.path.startswith(PREFIX) else ""
        answer = _answer_route(request.path)
        if route == "invocation/next":
            if request.method != "GET":
                return connection.refuse(405, allow="GET", keep_alive=request.keep_alive)
            connection.park(keep_alive=request.keep_alive)
            return supervisor.on_next(connection)
        if answer is not None:
            if request.method != "POST":
                return connection.refuse(405, allow="POST", keep_alive=request.keep_alive)
            request_id, kind = answer
            if kind == "response":
                outcome = supervisor.on_response(request_id, request.body)
            else:
                outcome = supervisor.on_error(request_id, request.headers.get(ERROR_TYPE_HEADER), request.body)
        elif route == "init/error":
            if request.method != "POST":
                return connection.refuse(405, allow="POST", keep_alive=request.keep_alive)
            outcome = supervisor.on_init_error(request.headers.get(ERROR_TYPE_HEADER), request.body)
        else:
            return connection.refuse(404, keep_alive=request.keep_alive)
        connection.answer(_REPLIES[outcome], keep_alive=request.keep_alive)

    def too_large(self, error: httpwire.BodyTooLarge) -> None:
        answer = _answer_route(error.path)
        if error.method == "POST" and answer is not None:
            self._supervisor.on_too_large(answer[0])

    def forget(self, connection: "Connection") -> None:
        self._connections.discard(connection)
        self._supervisor.on_disconnect(connection)

    def _accept(self, events: int) -> None:
        try:
            fd, _ = self._listener._accept()  # type: ignore[attr-defined]  # socket.socket's accept, unwrapped
        except OSError:  # gone before it was accepted, or out of descriptors: the runtime will retry
            return
        sock = _socket.socket(fileno=fd)
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        self._connections.add(Connection(api=self, loop=self._loop, sock=sock))


class Connection:
    """One of the runtime's HTTP connections: requests are served in order, one at a time; a parked
    ``/next`` holds back whatever the runtime pipelined behind it."""

    def __init__(self, *, api: RuntimeApi, loop: Loop, sock: "_socket.socket") -> None:
        self._api = api
        self._loop = loop
        self._reader = httpwire.RequestReader()
        self.parked = False
        self._keep_alive = True
        self._broken = False  # refused as malformed: what follows is not parsed
        self.stream = Stream(loop, sock, on_data=self._on_data, on_close=lambda: api.forget(self))

    def park(self, *, keep_alive: bool) -> None:
        self.parked, self._keep_alive = True, keep_alive

    def deliver(self, response: bytes) -> None:
        """Answer the parked ``/next``."""
        self.parked = False
        self.answer(response, keep_alive=self._keep_alive)
        self._loop.call_soon(self._serve)

    def answer(self, response: bytes, *, keep_alive: bool) -> None:
        self.stream.write(response)
        if not keep_alive:
            self.stream.close_when_written()

    def refuse(self, status: int, *, allow: str = "", keep_alive: bool = False, message: str = "") -> None:
        headers = [("Content-Type", "application/json")] + ([("Allow", allow)] if allow else [])
        document = error_document(_ERROR_TYPES.get(status, "InvalidRequest"), message or httpwire.REASONS[status])
        self.answer(httpwire.response(status, document, headers=headers, close=not keep_alive), keep_alive=keep_alive)

    def _on_data(self, data: bytes) -> None:
        if not self._broken:
            self._reader.feed(data)
            self._serve()

    def _serve(self) -> None:
        try:
            while not self.parked and not self.stream.closed:
                request = self._reader.next_request()
                if request is None:
                    if self._reader.take_continue():
                        self.stream.write(httpwire.CONTINUE)
                    return
                self._api.handle(self, request)
        except httpwire.BodyTooLarge as error:
            self._broken = True
            self._api.too_large(error)
            self.refuse(413, message=RESPONSE_TOO_LARGE)
        except httpwire.HttpError as error:
            self._broken = True
            self.refuse(error.status, message=str(error))


def _answer_route(path: str) -> "tuple[str, str] | None":
    """``(request id, "response" or "error")`` for the paths a runtime answers an invocation on."""
    parts = path[len(PREFIX) :].split("/") if path.startswith(PREFIX) else []
    if len(parts) == 3 and parts[0] == "invocation" and parts[1] and parts[2] in ("response", "error"):
        return parts[1], parts[2]
    return None
