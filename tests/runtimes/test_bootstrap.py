"""The Python bootstrap's pieces in process: its HTTP client against a scripted server, handler loading."""

from __future__ import annotations

import socket
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtimes.python import bootstrap


class ScriptedServer:
    """Answers each request it reads with the next canned response; records what it was sent."""

    def __init__(self, responses: list[bytes]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.responses = responses
        self.requests: list[bytes] = []
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.responses:
            connection, _ = self.listener.accept()
            self.connections += 1
            with connection:
                buffer = b""
                while self.responses:
                    while b"\r\n\r\n" not in buffer:
                        data = connection.recv(65536)
                        if not data:
                            break
                        buffer += data
                    if b"\r\n\r\n" not in buffer:
                        break
                    head, _, buffer = buffer.partition(b"\r\n\r\n")
                    length = int(head.lower().partition(b"content-length: ")[2].split(b"\r\n")[0] or 0)
                    while len(buffer) < length:
                        buffer += connection.recv(65536)
                    self.requests.append(head + b"\r\n\r\n" + buffer[:length])
                    buffer = buffer[length:]
                    response = self.responses.pop(0)
                    connection.sendall(response)
                    if b"Connection: close" in response:
                        break

    def close(self) -> None:
        self.listener.close()
        self.thread.join(5)


@pytest.fixture
def serve() -> Iterator[type[ScriptedServer]]:
    servers: list[ScriptedServer] = []

    class Tracked(ScriptedServer):
        def __init__(self, responses: list[bytes]) -> None:
            super().__init__(responses)
            servers.append(self)

    yield Tracked
    for server in servers:
        server.close()


def test_the_client_reads_chunked_and_sized_responses_on_one_connection(serve: type[ScriptedServer]) -> None:
    server = serve(
        [
            b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r1\r\nTransfer-Encoding: chunked\r\n\r\n"
            b'4\r\n{"a"\r\n5;x=y\r\n: 1}\n\r\n0\r\nX-Trailer: t\r\n\r\n',
            b'HTTP/1.1 202 Accepted\r\nContent-Length: 15\r\n\r\n{"status":"OK"}',
        ]
    )
    client = bootstrap.RuntimeClient(server.address)
    headers, body = client.next_invocation()
    assert headers["lambda-runtime-aws-request-id"] == "r1"
    assert body == b'{"a": 1}\n'
    client.post("/invocation/r1/response", b'"ok"')
    server.thread.join(5)
    assert server.connections == 1
    assert server.requests[0].startswith(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n")
    assert server.requests[1].startswith(b"POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\n")
    assert server.requests[1].endswith(b'Content-Length: 4\r\n\r\n"ok"')


def test_the_client_reconnects_after_connection_close(
    serve: type[ScriptedServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve(
        [
            b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
            b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r2\r\nContent-Length: 2\r\n\r\n{}",
        ]
    )
    client = bootstrap.RuntimeClient(server.address)
    client.post("/invocation/r1/error", b"{}", error_type="Big")
    assert "[WARNING] POST /invocation/r1/error answered 413" in capsys.readouterr().err
    assert client.next_invocation()[0]["lambda-runtime-aws-request-id"] == "r2"
    assert server.connections == 2
    assert b"\r\nLambda-Runtime-Function-Error-Type: Big\r\n" in server.requests[0]


def test_a_closed_runtime_api_is_an_error(serve: type[ScriptedServer]) -> None:
    server = serve([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}"])  # shorter than announced
    with pytest.raises(bootstrap.RuntimeApiError):
        bootstrap.RuntimeClient(server.address).next_invocation()


@pytest.fixture
def module_dir(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder on sys.path and a module name no other test uses."""
    name = f"handler_{uuid.uuid4().hex}"
    sys.path.insert(0, str(tmp_path))
    yield tmp_path, name
    sys.path.remove(str(tmp_path))
    sys.modules.pop(name, None)


def test_load_handler_imports_once(module_dir: tuple[Path, str]) -> None:
    folder, name = module_dir
    (folder / f"{name}.py").write_text(
        "loads = []\nloads.append(1)\n\ndef handler(event, context):\n    return loads\n"
    )
    first = bootstrap.load_handler(f"{name}.handler")
    second = bootstrap.load_handler(f"{name}.handler")
    assert first is second
    assert first(None, None) == [1]


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        ("nodot", "Runtime.MalformedHandlerName", "Bad handler 'nodot': expected 'module.function'"),
        ("time.handler", "Runtime.BuiltInModuleConflict", "Cannot use built-in module time as a handler module"),
        ("surely_absent_module.handler", "Runtime.ImportModuleError", "Unable to import module 'surely_absent_module'"),
    ],
)
def test_load_handler_faults(handler: str, error_type: str, message: str) -> None:
    with pytest.raises(bootstrap.Fault) as fault:
        bootstrap.load_handler(handler)
    assert fault.value.error_type == error_type
    assert str(fault.value).startswith(message)


def test_the_context_counts_down_to_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bootstrap.time, "time", lambda: 1_000.0)
    context = bootstrap.LambdaContext({"lambda-runtime-deadline-ms": "1002500"})
    assert context.get_remaining_time_in_millis() == 2500
    monkeypatch.setattr(bootstrap.time, "time", lambda: 1_010.0)
    assert context.get_remaining_time_in_millis() == 0
