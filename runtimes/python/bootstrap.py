"""The Python runtime: fetch each event from the Runtime API, call the handler, post what it returns.

It runs two ways: forked from the sandbox's agent, which imported this module before it was asked
for anything and then calls ``main()`` (see ``agent/launcher.py``); or as a script, ``python -I -S
bootstrap.py``, for instance as a ``provided`` runtime's ``bootstrap``. Either way it reads its
configuration from the environment the agent built (``_HANDLER``, ``AWS_LAMBDA_RUNTIME_API``, ...).

Start-up cost matters (it is part of every cold start), so it imports only C modules and what the
interpreter has loaded already: ``_socket`` and a bare HTTP/1.1 client instead of ``http.client``,
``_json``'s scanner and encoder instead of ``json`` (which pulls in ``re`` and ``enum``), ``posix``
instead of ``os``; ``traceback`` only once there is an error to report.

Errors are reported as Lambda's own runtime reports them: an ``[ERROR] Type: message`` line and
the traceback on stderr, and a JSON document ``{"errorMessage", "errorType", "requestId",
"stackTrace"}`` posted to ``/invocation/{id}/error``, or to ``/init/error`` (then the runtime exits 1)
for ``Runtime.ImportModuleError``, ``Runtime.UserCodeSyntaxError``, ``Runtime.HandlerNotFound``,
``Runtime.MalformedHandlerName``, ``Runtime.BuiltInModuleConflict`` or an exception raised while
importing the handler's module.
"""

import _json
import _socket
import posix
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    Handler = Callable[[Any, "LambdaContext"], Any]

PREFIX = "/2018-06-01/runtime"
_READ_BYTES = 64 * 1024
_WHITESPACE = " \t\n\r"
_TRACE_ID = "_X_AMZN_TRACE_ID"


class RuntimeApiError(Exception):
    """The Runtime API closed the connection or answered what this client cannot read."""


class Fault(Exception):
    """An error to report to the Runtime API: ``str(fault)`` is its message."""

    def __init__(self, error_type: str, message: str, stack_trace: "list[str] | None" = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.stack_trace = stack_trace or []

    @classmethod
    def of(cls, error: BaseException) -> "Fault":
        """The fault of an exception the function raised: its class, its message, its frames."""
        return cls(type(error).__name__, str(error), _user_frames(error))


# JSON, through the C scanner and encoder json itself uses.


class _Defaults:
    """What ``_json.make_scanner`` reads from a ``json.JSONDecoder``: its defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # "NaN", "Infinity" and "-Infinity", as json reads them


_scan = _json.make_scanner(_Defaults())  # type: ignore[arg-type]  # duck-typed, as the stub says


def loads(data: bytes) -> "Any":
    """``json.loads``; what the fast path refuses goes to ``json`` itself, to decode or to explain."""
    try:
        text = data.decode()
        start = len(text) - len(text.lstrip(_WHITESPACE)) if text[:1] in _WHITESPACE else 0
        value, end = _scan(text, start)
        if end == len(text) or not text[end:].strip(_WHITESPACE):
            return value
    except Exception:  # noqa: S110 - json below says what is wrong, in its own words
        pass
    import json

    return json.loads(data)


def dumps(value: object) -> bytes:
    """``json.dumps(value)``, with ``Decimal`` written as a number, as Lambda's runtime does."""
    encode = _json.make_encoder({}, _serializable, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True)
    return "".join(encode(value, 0)).encode()


def _serializable(value: object) -> object:
    decimal = sys.modules.get("decimal")  # loaded if the function made a Decimal
    if decimal is not None and isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


# The Runtime API's client.


class RuntimeClient:
    """HTTP/1.1 to the Runtime API on one keep-alive connection, opened again if the agent closed it.

    An answer to an invocation may carry the next ``GET /next`` along in the same write (HTTP
    pipelining): the runtime then sleeps once per invocation instead of twice, and its request
    for the next event is parked at the agent before the platform sends it.
    """

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self._host = address
        self._family = _socket.AF_INET6 if host.startswith("[") else _socket.AF_INET
        self._address = (host.strip("[]"), int(port or 0))
        self._sock: _socket.socket | None = None
        self._buffer = bytearray()
        self._next_asked = False  # a GET /next went out pipelined and its answer is still to read

    def next_invocation(self) -> "tuple[dict[str, str], bytes]":
        """The next event's headers (lower-case names) and body; blocks until there is one."""
        if self._next_asked and self._sock is not None:
            self._next_asked = False
            status, headers, body = self._exchange(b"", "GET /invocation/next")
        else:
            status, headers, body = self._exchange(self._head("GET", "/invocation/next"), "GET /invocation/next")
        if status != 200:
            raise RuntimeApiError(f"GET /invocation/next answered {status}: {body[:200]!r}")
        return headers, body

    def post(self, path: str, body: bytes, *, error_type: "str | None" = None, then_next: bool = False) -> None:
        """POST to ``PREFIX + path``, with ``GET /next`` pipelined behind it if ``then_next``. A refusal
        (a response too large, an invocation answered already) is the agent's to report: here it is
        only a warning on stderr."""
        fields = f"Lambda-Runtime-Function-Error-Type: {error_type}\r\n" if error_type else ""
        fields += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        parts = [self._head("POST", path, fields), body]
        if then_next:
            parts.append(self._head("GET", "/invocation/next"))
        try:
            status, _, answer = self._exchange(b"".join(parts), f"POST {path}")
        except RuntimeApiError as error:
            sys.stderr.write(f"[WARNING] POST {path} failed: {error}\n")
            return
        self._next_asked = then_next and self._sock is not None  # unless the agent closed the connection
        if not 200 <= status < 300:
            sys.stderr.write(f"[WARNING] POST {path} answered {status}: {answer[:200].decode(errors='replace')}\n")

    def _head(self, method: str, path: str, fields: str = "") -> bytes:
        return f"{method} {PREFIX}{path} HTTP/1.1\r\nHost: {self._host}\r\n{fields}\r\n".encode()

    def _exchange(self, request: bytes, what: str) -> "tuple[int, dict[str, str], bytes]":
        """Send ``request`` (nothing if empty) and read one response."""
        try:
            if request:
                self._connection().sendall(request)
            return self._response()
        except (OSError, ValueError) as error:  # ValueError: a length that is no number
            self._close()
            raise RuntimeApiError(f"{what}: {error}") from error
        except RuntimeApiError:
            self._close()
            raise

    def _connection(self) -> "_socket.socket":
        if self._sock is None:
            sock = _socket.socket(self._family, _socket.SOCK_STREAM)
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            try:
                sock.connect(self._address)
            except OSError:
                sock.close()
                raise
            self._sock = sock
            self._buffer = bytearray()
        return self._sock

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _response(self) -> "tuple[int, dict[str, str], bytes]":
        while True:
            lines = self._until(b"\r\n\r\n").decode("latin-1").split("\r\n")
            status_line = lines[0].split(" ", 2)
            if len(status_line) < 2 or not status_line[1].isdigit():
                raise RuntimeApiError(f"malformed status line {lines[0][:100]!r}")
            if not status_line[1].startswith("1"):  # 100 Continue and the like precede the answer
                break
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._chunked()
        elif "content-length" in headers:
            body = self._exactly(int(headers["content-length"]))
        else:
            body = self._to_the_end()
        if headers.get("connection", "").lower() == "close":
            self._close()
        return int(status_line[1]), headers, body

    def _fill(self) -> None:
        assert self._sock is not None
        data = self._sock.recv(_READ_BYTES)
        if not data:
            raise RuntimeApiError("the Runtime API closed the connection")
        self._buffer += data

    def _until(self, delimiter: bytes) -> bytes:
        """What comes before ``delimiter``; both are consumed."""
        while (end := self._buffer.find(delimiter)) < 0:
            self._fill()
        data = bytes(self._buffer[:end])
        del self._buffer[: end + len(delimiter)]
        return data

    def _exactly(self, size: int) -> bytes:
        buffer = self._buffer
        if len(buffer) >= size:
            data = bytes(buffer[:size])
            del buffer[:size]
            return data
        body = bytearray(size)  # a large body is received in place
        have = len(buffer)
        body[:have] = buffer
        buffer.clear()
        view = memoryview(body)
        assert self._sock is not None
        while have < size:
            received = self._sock.recv_into(view[have:])
            if not received:
                raise RuntimeApiError("the Runtime API closed the connection mid-body")
            have += received
        return bytes(body)

    def _chunked(self) -> bytes:
        body = bytearray()
        while size := int(self._until(b"\r\n").partition(b";")[0].strip(), 16):  # ValueError if not hex
            body += self._exactly(size)
            if self._exactly(2) != b"\r\n":
                raise RuntimeApiError("a chunk longer than its size")
        while self._until(b"\r\n"):  # trailer fields, up to an empty line
            pass
        return bytes(body)

    def _to_the_end(self) -> bytes:
        try:
            while True:
                self._fill()
        except RuntimeApiError:
            body = bytes(self._buffer)
            self._buffer.clear()
            self._close()
            return body


# What a handler gets.


class Function:
    """What the environment says of the function, read once."""

    __slots__ = ("name", "version", "memory_mb", "log_group_name", "log_stream_name")

    def __init__(self) -> None:
        self.name = getenv("AWS_LAMBDA_FUNCTION_NAME")
        self.version = getenv("AWS_LAMBDA_FUNCTION_VERSION")
        memory = getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.memory_mb = int(memory) if memory.isdigit() else 0
        self.log_group_name = getenv("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = getenv("AWS_LAMBDA_LOG_STREAM_NAME")


class Client:
    """The mobile client of a client context (``context.client_context.client``)."""

    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")

    def __init__(self, fields: "Mapping[str, Any]") -> None:
        for name in self.__slots__:
            setattr(self, name, fields.get(name))


class ClientContext:
    __slots__ = ("client", "custom", "env")

    def __init__(self, document: "Mapping[str, Any]") -> None:
        client = document.get("client")
        self.client = Client(client) if isinstance(client, dict) else None
        self.custom = document.get("custom")
        self.env = document.get("env")


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, document: "Mapping[str, Any]") -> None:
        self.cognito_identity_id = document.get("cognitoIdentityId")
        self.cognito_identity_pool_id = document.get("cognitoIdentityPoolId")


class LambdaContext:
    """The handler's second argument, with the attributes and the method Lambda's context has."""

    def __init__(self, headers: "Mapping[str, str]", *, function: "Function | None" = None) -> None:
        function = function or Function()
        self.aws_request_id = headers.get("lambda-runtime-aws-request-id", "")
        self.invoked_function_arn = headers.get("lambda-runtime-invoked-function-arn", "")
        self.function_name = function.name
        self.function_version = function.version
        self.memory_limit_in_mb = function.memory_mb
        self.log_group_name = function.log_group_name
        self.log_stream_name = function.log_stream_name
        context = _json_object(headers.get("lambda-runtime-client-context"))
        self.client_context = ClientContext(context) if context is not None else None
        identity = _json_object(headers.get("lambda-runtime-cognito-identity"))
        self.identity = CognitoIdentity(identity) if identity is not None else None
        deadline = headers.get("lambda-runtime-deadline-ms", "")
        self._deadline_ms = int(deadline) if deadline.isdigit() else 0

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, message: str) -> None:
        sys.stdout.write(message)


def _json_object(header: "str | None") -> "dict[str, Any] | None":
    try:
        document = loads(header.encode()) if header else None
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


# The handler.

_handlers: "dict[str, Handler]" = {}


def load_handler(name: str) -> "Handler":
    """The function ``name`` designates (``module.function``, ``package.module.function`` or
    ``folder/module.function``), its module imported once; ``Fault`` if it cannot be had. An
    exception the module raises while it is imported propagates as it is."""
    if name in _handlers:
        return _handlers[name]
    module_name, _, function_name = name.rpartition(".")
    module_name = module_name.replace("/", ".")
    if not module_name or not function_name:
        raise Fault("Runtime.MalformedHandlerName", f"Bad handler '{name}': expected 'module.function'")
    if module_name in sys.builtin_module_names:
        raise Fault("Runtime.BuiltInModuleConflict", f"Cannot use built-in module {module_name} as a handler module")
    try:
        __import__(module_name)
    except ImportError as error:
        message = f"Unable to import module '{module_name}': {error}"
        raise Fault("Runtime.ImportModuleError", message, _user_frames(error)) from error
    except SyntaxError as error:
        message = f"Syntax error in module '{module_name}': {error}"
        frame = f'  File "{error.filename}" Line {error.lineno}\n    {(error.text or "").strip()}\n'
        raise Fault("Runtime.UserCodeSyntaxError", message, [frame]) from error
    handler: Handler | None = getattr(sys.modules[module_name], function_name, None)
    if handler is None:
        raise Fault("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    _handlers[name] = handler
    return handler


def _user_frames(error: BaseException) -> list[str]:
    """The traceback's frames, formatted, without this module's nor the import machinery's."""
    import traceback

    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if frame.filename != __file__ and not frame.filename.startswith("<frozen importlib")
    ]
    return traceback.format_list(frames)


# The loop.


def main() -> int:
    """Serve invocations for ever; 1 if init fails or the Runtime API goes away."""
    _prepare_path(task_root=getenv("LAMBDA_TASK_ROOT") or posix.getcwd())
    client = RuntimeClient(getenv("AWS_LAMBDA_RUNTIME_API"))
    try:
        handler = load_handler(getenv("_HANDLER"))
    except Fault as fault:
        _report(client, "/init/error", fault, request_id="")
        return 1
    except Exception as error:
        _report(client, "/init/error", Fault.of(error), request_id="")
        return 1
    function = Function()
    try:
        while True:
            headers, body = client.next_invocation()
            _invoke(client, handler, function=function, headers=headers, body=body)
    except RuntimeApiError as error:
        sys.stderr.write(f"[ERROR] The Runtime API is gone: {error}\n")
        return 1


def getenv(name: str) -> str:
    """A variable of the runtime's environment, or "" (``posix.environ`` is what ``os.environ`` wraps)."""
    return posix.environ.get(name.encode(), b"").decode(errors="surrogateescape")


def _prepare_path(*, task_root: str) -> None:
    """The task root first on ``sys.path``, then ``PYTHONPATH``'s folders and the layers', as on Lambda."""
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    extra = [task_root, *filter(None, getenv("PYTHONPATH").split(":"))]
    extra += [f"/opt/python/lib/{version}/site-packages", "/opt/python"]
    sys.path[:0] = [entry for entry in dict.fromkeys(extra) if entry not in sys.path]


def _invoke(
    client: RuntimeClient, handler: "Handler", *, function: Function, headers: "dict[str, str]", body: bytes
) -> None:
    request_id = headers.get("lambda-runtime-aws-request-id", "")
    _set_trace_id(headers.get("lambda-runtime-trace-id"))
    try:
        event = loads(body) if body else None
    except ValueError as error:
        fault = Fault("Runtime.UnmarshalError", f"Unable to unmarshal input: {error}")
        return _report(client, f"/invocation/{request_id}/error", fault, request_id, then_next=True)
    try:
        result = handler(event, LambdaContext(headers, function=function))
    except Exception as error:
        return _report(client, f"/invocation/{request_id}/error", Fault.of(error), request_id, then_next=True)
    try:
        payload = dumps(result)
    except (TypeError, ValueError, RecursionError) as error:
        fault = Fault("Runtime.MarshalError", f"Unable to marshal response: {error}")
        return _report(client, f"/invocation/{request_id}/error", fault, request_id, then_next=True)
    _flush()
    client.post(f"/invocation/{request_id}/response", payload, then_next=True)


def _set_trace_id(trace_id: "str | None") -> None:
    """``_X_AMZN_TRACE_ID`` for this invocation, in ``os.environ`` and for child processes alike."""
    if trace_id:
        posix.putenv(_TRACE_ID, trace_id)
        posix.environ[_TRACE_ID.encode()] = trace_id.encode(errors="surrogateescape")
    elif posix.environ.pop(_TRACE_ID.encode(), None) is not None:
        posix.unsetenv(_TRACE_ID)


def _report(client: RuntimeClient, path: str, fault: Fault, request_id: str, *, then_next: bool = False) -> None:
    trace = "".join(fault.stack_trace)
    sys.stderr.write(f"[ERROR] {fault.error_type}: {fault}\nTraceback (most recent call last):\n{trace}")
    _flush()
    document = {
        "errorMessage": str(fault),
        "errorType": fault.error_type,
        "requestId": request_id,
        "stackTrace": fault.stack_trace,
    }
    client.post(path, dumps(document), error_type=fault.error_type, then_next=then_next)


def _flush() -> None:
    """Before each post: the agent reports what was written up to the answer with that answer."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()


if __name__ == "__main__":
    sys.exit(main())
