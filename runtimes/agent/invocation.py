"""One invocation as the agent holds it, and the pieces of its result: the error type, the log."""

from _json import encode_basestring_ascii

from . import fastjson, httpwire
from .protocol import ProtocolError

RESPONSE_TOO_LARGE = f"Response payload size exceeded maximum allowed payload size ({httpwire.MAX_BODY_BYTES} bytes)."
#: The most of a runtime's output kept for one result: its last mebibyte.
LOG_BYTES = 1 << 20
_ID_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")
_OPTIONAL_HEADERS = (("Lambda-Runtime-Trace-Id", "trace_id"), ("Lambda-Runtime-Cognito-Identity", "cognito_identity"))
_CONTROL_CHARACTERS = frozenset([chr(code) for code in range(32)] + ["\x7f"])
_CONTINUATION_BYTES = bytes(range(0x80, 0xC0))  # UTF-8's second to fourth bytes
_FIT_BLOCK = 4096  # characters escaped at a time while fitting a log into its room


class Invocation:
    """An ``invoke`` frame, checked: every value that becomes a header of ``/next`` is safe as one."""

    __slots__ = ("request_id", "payload", "deadline_ms", "delivered_at", "_headers")

    def __init__(self, *, request_id: str, payload: bytes, deadline_ms: int, headers: list[tuple[str, str]]) -> None:
        self.request_id = request_id
        self.payload = payload
        self.deadline_ms = deadline_ms  # wall clock, in milliseconds since the epoch
        self.delivered_at: float | None = None  # when the runtime received it (perf_counter)
        self._headers = headers

    @classmethod
    def from_frame(cls, header: dict, body: bytes) -> "Invocation":
        """``ProtocolError`` if a field is missing, of the wrong type, or unsafe in an HTTP header."""
        request_id = header.get("request_id")
        if not isinstance(request_id, str) or not 0 < len(request_id) <= 128 or set(request_id) - _ID_CHARACTERS:
            raise ProtocolError(f"invoke: malformed request_id {request_id!r:.140}")  # it goes into URLs and headers
        deadline_ms = header.get("deadline_ms")
        if not isinstance(deadline_ms, int) or isinstance(deadline_ms, bool):
            raise ProtocolError("invoke: deadline_ms must be an integer")
        arn = _header_value(header, "invoked_function_arn")
        if arn is None:
            raise ProtocolError("invoke: invoked_function_arn must be a string")
        headers = [
            ("Content-Type", "application/json"),
            ("Lambda-Runtime-Aws-Request-Id", request_id),
            ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn", arn),
        ]
        for name, field in _OPTIONAL_HEADERS:
            value = _header_value(header, field)
            if value is not None:
                headers.append((name, value))
        client_context = _header_value(header, "client_context")
        if client_context is not None:
            headers.append(("Lambda-Runtime-Client-Context", _decode_client_context(client_context)))
        return cls(request_id=request_id, payload=body, deadline_ms=deadline_ms, headers=headers)

    def next_response(self) -> bytes:
        """The answer to the runtime's ``GET /next`` that hands it this invocation."""
        return httpwire.response(200, self.payload, headers=self._headers)


def _header_value(header: dict, field: str) -> "str | None":
    value = header.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or not _CONTROL_CHARACTERS.isdisjoint(value):
        raise ProtocolError(f"invoke: {field} must be a string without control characters")
    return value


def _decode_client_context(encoded: str) -> str:
    """Base64 of a JSON object, as the platform sends it; one line of JSON, as a runtime reads it."""
    import binascii  # only invocations that carry a client context pay for it

    try:
        document = fastjson.loads(binascii.a2b_base64(encoded, strict_mode=True))
    except ValueError:  # binascii.Error and JSONDecodeError both are
        raise ProtocolError("invoke: client_context is not base64 of JSON") from None
    if not isinstance(document, dict):
        raise ProtocolError("invoke: client_context is not base64 of a JSON object")
    return fastjson.dumps(document)


def posted_error_type(*, header: "str | None", body: bytes, default: str) -> str:
    """The type of an error a runtime posted: its ``Lambda-Runtime-Function-Error-Type`` header,
    else the ``errorType`` of the JSON object it posted, else ``default``."""
    if header:
        return header
    if body.lstrip()[:1] != b"{":
        return default
    try:
        document = fastjson.loads(body)
    except ValueError:
        return default
    error_type = document.get("errorType") if isinstance(document, dict) else None
    return error_type if isinstance(error_type, str) and error_type else default


def error_document(error_type: str, message: str) -> bytes:
    """An error body as Lambda writes its own: ``{"errorType": ..., "errorMessage": ...}``."""
    return fastjson.dumps({"errorType": error_type, "errorMessage": message}).encode()


class LogBuffer:
    """What the runtime wrote to stdout and stderr since the last result: the end of it, up to ``capacity``."""

    def __init__(self, capacity: int = LOG_BYTES) -> None:
        self._capacity = capacity
        self._data = bytearray()
        self._cut = False  # whether the front was dropped, maybe in the middle of a character

    def append(self, data: bytes) -> None:
        self._data += data
        excess = len(self._data) - self._capacity
        if excess > 0:
            del self._data[:excess]
            self._cut = True

    def take(self, *, max_json_bytes: int) -> str:
        """All of it as text (empty afterwards), cut at the front so its JSON string (quotes included,
        non-ASCII escaped as ``json.dumps`` does) takes at most ``max_json_bytes``."""
        data, cut = self._data, self._cut
        self._data, self._cut = bytearray(), False
        if cut:  # do not let the half of a character that was cut show as a replacement character
            data = data.lstrip(_CONTINUATION_BYTES)
        return _fit(data.decode(errors="replace"), max_json_bytes - 2)


def _fit(text: str, room: int) -> str:
    """The longest end of ``text`` whose escaped form has at most ``room`` characters.

    Escaped lengths add up character by character, so the text is measured from its end in
    blocks, and only the block that overflows is bisected.
    """
    if len(text) <= room and len(encode_basestring_ascii(text)) - 2 <= room:
        return text
    if room <= 0:
        return ""
    start, end, used = 0, len(text), 0
    while end > 0:
        start = max(end - _FIT_BLOCK, 0)
        size = len(encode_basestring_ascii(text[start:end])) - 2
        if used + size > room:
            break
        used, end = used + size, start
    low, high = start, end  # text[high:] fits; find the first index from which it still does
    while low < high:
        middle = (low + high) // 2
        if used + len(encode_basestring_ascii(text[middle:end])) - 2 <= room:
            high = middle
        else:
            low = middle + 1
    return text[high:]
