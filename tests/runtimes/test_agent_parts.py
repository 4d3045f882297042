"""The agent's pure parts, in process: HTTP parsing, frame reading, the runtime environment, result pieces."""

from __future__ import annotations

import base64
import json

import pytest

from runtimes.agent import httpwire, protocol
from runtimes.agent.environment import runtime_environment
from runtimes.agent.frames import FrameReader
from runtimes.agent.invocation import Invocation, LogBuffer, posted_error_type


def parse_all(data: bytes, *, byte_by_byte: bool = False) -> list[httpwire.Request]:
    reader = httpwire.RequestReader()
    requests = []
    for piece in [data[i : i + 1] for i in range(len(data))] if byte_by_byte else [data]:
        reader.feed(piece)
        while (request := reader.next_request()) is not None:
            requests.append(request)
    return requests


@pytest.mark.parametrize("byte_by_byte", [False, True])
def test_pipelined_requests_with_both_body_framings(byte_by_byte: bool) -> None:
    data = (
        b"GET /2018-06-01/runtime/invocation/next?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"
        b"POST /r HTTP/1.1\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2\r\n\r\nhello"
        b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;ext=1\r\nabc\r\n0A\r\n0123456789\r\n0\r\nTrailer: t\r\n\r\n"
        b"GET /last HTTP/1.1\r\nConnection: close\r\n\r\n"
    )
    first, second, third, last = parse_all(data, byte_by_byte=byte_by_byte)
    assert (first.method, first.path, first.body, first.keep_alive) == (
        "GET",
        "/2018-06-01/runtime/invocation/next",
        b"",
        True,
    )
    assert (second.body, second.headers["x-a"]) == (b"hello", "1, 2")
    assert third.body == b"abc0123456789"
    assert (last.path, last.keep_alive) == ("/last", False)


def test_expect_continue_is_wanted_while_the_body_is_missing() -> None:
    reader = httpwire.RequestReader()
    reader.feed(b"POST /r HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n")
    assert reader.next_request() is None
    assert reader.take_continue() is True
    assert reader.take_continue() is False
    reader.feed(b"ok")
    assert reader.next_request().body == b"ok"
    reader.feed(b"POST /r HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok")
    assert reader.next_request() is not None
    assert reader.take_continue() is False  # the body came along: nothing to invite


def test_http_1_0_closes_unless_asked_to_keep_alive() -> None:
    closing, keeping = parse_all(b"GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert (closing.keep_alive, keeping.keep_alive) == (False, True)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GET /\r\n\r\n", 400),
        (b"GET / SPDY/3\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nno colon\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY", 400),
        (b"GET / HTTP/1.1\r\nX: " + b"y" * (httpwire.MAX_HEAD_BYTES + 1), 431),
    ],
)
def test_malformed_requests_are_refused(data: bytes, status: int) -> None:
    with pytest.raises(httpwire.HttpError) as error:
        parse_all(data)
    assert error.value.status == status


def test_an_oversized_body_is_refused_before_it_is_read() -> None:
    head = f"POST /p HTTP/1.1\r\nContent-Length: {httpwire.MAX_BODY_BYTES + 1}\r\n\r\n".encode()
    with pytest.raises(httpwire.BodyTooLarge) as error:
        parse_all(head)
    assert (error.value.status, error.value.method, error.value.path) == (413, "POST", "/p")


def test_an_oversized_chunked_body_is_refused() -> None:
    chunk = b"%x\r\n" % (1 << 20) + b"x" * (1 << 20) + b"\r\n"
    with pytest.raises(httpwire.BodyTooLarge):
        parse_all(b"POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 7)


def test_a_response_is_one_piece_with_its_length() -> None:
    assert httpwire.response(202, b'{"status":"OK"}') == (
        b'HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{"status":"OK"}'
    )
    closing = httpwire.response(404, b"", headers=[("Content-Type", "text/plain"), ("X-Id", "é")], close=True)
    assert closing == (
        "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nX-Id: é\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n".encode()
    )


def test_frames_are_read_whatever_the_split() -> None:
    data = protocol.encode({"op": "a"}, b"body") + protocol.encode({"op": "b"})
    reader = FrameReader()
    frames = []
    for byte in data:
        reader.feed(bytes([byte]))
        while (frame := reader.next_frame()) is not None:
            frames.append(frame)
    assert frames == [({"op": "a"}, b"body"), ({"op": "b"}, b"")]


def test_an_oversized_frame_is_a_protocol_error() -> None:
    reader = FrameReader()
    reader.feed((protocol.MAX_HEADER_BYTES + 1).to_bytes(4, "big"))
    with pytest.raises(protocol.ProtocolError):
        reader.next_frame()


INIT = {
    "runtime": "python3.12",
    "handler": "app.handler",
    "function_name": "f",
    "function_version": "$LATEST",
    "memory_size": 128,
    "environment": {"PATH": "/custom", "_HANDLER": "evil", "AWS_LAMBDA_RUNTIME_API": "evil"},
    "log_group_name": "g",
    "log_stream_name": "s",
    "region": "us-east-1",
    "initialization_type": "on-demand",
}


def test_reserved_variables_override_the_functions_and_defaults_do_not() -> None:
    environment = runtime_environment(INIT, runtime_api="127.0.0.1:9001", task_root="/var/task")
    assert environment["_HANDLER"] == "app.handler"
    assert environment["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"
    assert environment["PATH"] == "/custom"
    assert environment["LD_LIBRARY_PATH"] == "/var/task/lib:/opt/lib"
    provided = runtime_environment({**INIT, "runtime": "provided.al2023"}, runtime_api="a:1", task_root="/t")
    assert "PYTHONUNBUFFERED" not in provided


@pytest.mark.parametrize(
    "change", [{"environment": {"A": 1}}, {"memory_size": "128"}, {"memory_size": True}, {"region": None}]
)
def test_a_malformed_init_is_a_protocol_error(change: dict) -> None:
    with pytest.raises(protocol.ProtocolError):
        runtime_environment({**INIT, **change}, runtime_api="a:1", task_root="/t")


INVOKE = {"request_id": "r", "deadline_ms": 5, "invoked_function_arn": "arn"}


@pytest.mark.parametrize(
    "change",
    [
        {"request_id": "r\r\nX-Injected: 1"},
        {"request_id": ""},
        {"deadline_ms": "5"},
        {"trace_id": 7},
        {"client_context": "not base64!"},
        {"client_context": base64.b64encode(b"{\n bad json").decode()},
    ],
)
def test_a_malformed_invoke_is_a_protocol_error(change: dict) -> None:
    with pytest.raises(protocol.ProtocolError):
        Invocation.from_frame({**INVOKE, **change}, b"")


def test_posted_error_types() -> None:
    assert posted_error_type(header="H", body=b'{"errorType": "B"}', default="D") == "H"
    assert posted_error_type(header=None, body=b'{"errorType": "B"}', default="D") == "B"
    assert posted_error_type(header=None, body=b'["errorType"]', default="D") == "D"
    assert posted_error_type(header="", body=b'{"errorType": 3}', default="D") == "D"


def test_the_log_buffer_keeps_the_end_and_fits_its_json_room() -> None:
    log = LogBuffer()
    log.append(b"a" * 100 + b"\x01" * 100 + b"end")
    text = log.take(max_json_bytes=60)
    assert len(json.dumps(text)) <= 60
    assert text.endswith("\x01end")
    assert log.take(max_json_bytes=60) == ""
