"""The agent with ``provided`` runtimes: the Runtime API as any runtime sees it, and the sandbox's lifecycle.

Several tests play the runtime themselves: the ``bootstrap`` only writes the Runtime API address to
``api.txt`` and sleeps, and the test speaks HTTP to the agent with ``http.client``.
"""

from __future__ import annotations

import base64
import http.client
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runtimes.agent import protocol
from tests.runtimes.conftest import ROOT, TIMEOUT, Agent, process_gone

PREFIX = "/2018-06-01/runtime"
SLEEPING_BOOTSTRAP = """
#!/bin/sh
echo "$AWS_LAMBDA_RUNTIME_API" > "$LAMBDA_TASK_ROOT/api.txt"
exec sleep 600
"""
URLLIB_BOOTSTRAP = f"""
#!{sys.executable}
import json, os, urllib.request

api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
print("custom runtime starting")
while True:
    with urllib.request.urlopen(api + "next") as response:
        request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(response.read())
    print("handling", request_id, flush=True)
    answer = json.dumps({{"echo": event, "handler": os.environ["_HANDLER"]}}).encode()
    urllib.request.urlopen(urllib.request.Request(api + request_id + "/response", data=answer)).read()
"""


@pytest.fixture
def runtime_api(agent: Agent, write: Callable[..., Path]) -> Iterator[Callable[[], http.client.HTTPConnection]]:
    """Init the agent with a runtime that sleeps; the test opens Runtime API connections with the factory."""
    write("bootstrap", SLEEPING_BOOTSTRAP, executable=True)
    agent.init(runtime="provided.al2023", handler="unused")
    host, _, port = agent.runtime_api().rpartition(":")
    connections: list[http.client.HTTPConnection] = []

    def connect() -> http.client.HTTPConnection:
        connection = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
        connections.append(connection)
        return connection

    yield connect
    for connection in connections:
        connection.close()


def request(
    connection: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    connection.request(method, PREFIX + path, body=body, headers={k.replace("_", "-"): v for k, v in headers.items()})
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def test_a_provided_runtime_serves_invocations(agent: Agent, write: Callable[..., Path]) -> None:
    write("bootstrap", URLLIB_BOOTSTRAP, executable=True)
    agent.init(runtime="provided.al2023", handler="function.handler")
    first, body = agent.invoke({"n": 1}, request_id="req-1")
    assert first["status"] == "success"
    assert body == {"echo": {"n": 1}, "handler": "function.handler"}
    assert first["init_duration_ms"] > 0
    assert first["log"] == "custom runtime starting\nhandling req-1\n"
    second, body = agent.invoke({"n": 2}, request_id="req-2")
    assert body == {"echo": {"n": 2}, "handler": "function.handler"}
    assert second["init_duration_ms"] is None
    assert second["log"] == "handling req-2\n"


CURL_BOOTSTRAP = """
#!/bin/sh
# The custom runtime of AWS's tutorial, with files for bodies: curl sends "Expect: 100-continue"
# before a body over 1 MiB, then waits a second for the go-ahead unless the server gives it.
set -eu
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
headers="$(mktemp)"
event="$(mktemp)"
while true; do
  curl -sS -D "$headers" -o "$event" "$api/next"
  request_id="$(grep -Fi Lambda-Runtime-Aws-Request-Id "$headers" | tr -d '[:space:]' | cut -d: -f2)"
  curl -sS -X POST "$api/$request_id/response" --data-binary "@$event" > /dev/null
done
"""


def test_a_shell_and_curl_runtime_is_not_held_up_by_expect_continue(agent: Agent, write: Callable[..., Path]) -> None:
    write("bootstrap", CURL_BOOTSTRAP, executable=True)
    agent.init(runtime="provided")
    event = {"text": "y" * 1_500_000}
    for _ in range(2):
        result, body = agent.invoke(event)
        assert (result["status"], body) == ("success", event), result["log"]
        assert result["duration_ms"] < 700  # curl did not sit out its one-second wait for 100 Continue


def test_the_python_bootstrap_also_runs_as_a_script(agent: Agent, write: Callable[..., Path]) -> None:
    bootstrap = ROOT / "runtimes" / "python" / "bootstrap.py"
    write("bootstrap", f"#!/bin/sh\nexec {sys.executable} -I -S {bootstrap}\n", executable=True)
    write("app.py", "import os\n\ndef handler(event, context):\n    return [event, context.function_name]\n")
    agent.init(runtime="provided", handler="app.handler", environment={"PYTHONUNBUFFERED": "1"})
    result, body = agent.invoke({"k": "v"})
    assert result["status"] == "success", body
    assert body == [{"k": "v"}, "my-function"]


def test_an_exec_d_runtime_has_exactly_the_runtime_environment(
    start_agent: Callable[..., Agent], write: Callable[..., Path]
) -> None:
    write(
        "bootstrap",
        URLLIB_BOOTSTRAP.replace('"handler": os.environ["_HANDLER"]', '"handler": open("/proc/self/environ").read()'),
        executable=True,
    )
    agent = start_agent({"AGENT_SECRET_MARKER": "must-not-leak"})
    agent.init(runtime="provided", environment={"GREETING": "hello"})
    result, body = agent.invoke({})
    assert result["status"] == "success"
    assert isinstance(body, dict)
    environ = dict(item.split("=", 1) for item in body["handler"].split("\0") if item)
    assert environ["GREETING"] == "hello"
    assert environ["AWS_EXECUTION_ENV"] == "AWS_Lambda_provided"
    assert "AGENT_SECRET_MARKER" not in environ and "PYTHONUNBUFFERED" not in environ


def test_next_carries_the_invocation_headers_and_the_event(
    agent: Agent, runtime_api: Callable[[], http.client.HTTPConnection]
) -> None:
    connection = runtime_api()
    connection.request("GET", PREFIX + "/invocation/next")
    client_context = {"custom": {"greeting": "héllo €"}}
    agent.send_invoke(
        b'{"event": true}',
        request_id="req-h",
        deadline_ms=1_900_000_000_000,
        trace_id="Root=1-5e1b4151-5ac6c58f1e8e4f0b2bd3a0c5",
        client_context=base64.b64encode(json.dumps(client_context, indent=1).encode()).decode(),
        cognito_identity='{"cognitoIdentityId": "id"}',
    )
    response = connection.getresponse()
    assert response.status == 200
    assert response.read() == b'{"event": true}'
    assert response.getheader("Lambda-Runtime-Aws-Request-Id") == "req-h"
    assert response.getheader("Lambda-Runtime-Deadline-Ms") == "1900000000000"
    assert response.getheader("Lambda-Runtime-Invoked-Function-Arn").endswith(":function:my-function:live")
    assert response.getheader("Lambda-Runtime-Trace-Id") == "Root=1-5e1b4151-5ac6c58f1e8e4f0b2bd3a0c5"
    assert response.getheader("Lambda-Runtime-Cognito-Identity") == '{"cognitoIdentityId": "id"}'
    assert response.getheader("Content-Type") == "application/json"
    # Decoded from base64 and on one line, as Lambda hands it over; http.client reads headers as Latin-1.
    raw_context = response.getheader("Lambda-Runtime-Client-Context").encode("latin-1").decode()
    assert json.loads(raw_context) == client_context
    assert request(connection, "POST", "/invocation/req-h/response", b'"done"') == (
        202,
        {"Content-Type": "application/json", "Content-Length": "15"},
        b'{"status":"OK"}',
    )
    result, body = agent.receive_result()
    assert (result["status"], body) == ("success", b'"done"')
    assert result["init_duration_ms"] > 0


def test_absent_optional_headers_are_left_out(
    agent: Agent, runtime_api: Callable[[], http.client.HTTPConnection]
) -> None:
    connection = runtime_api()
    connection.request("GET", PREFIX + "/invocation/next")
    agent.send_invoke(b"{}")
    response = connection.getresponse()
    response.read()
    assert not {"Lambda-Runtime-Trace-Id", "Lambda-Runtime-Client-Context", "Lambda-Runtime-Cognito-Identity"} & {
        name for name, _ in response.getheaders()
    }


def deliver(agent: Agent, connection: http.client.HTTPConnection, request_id: str) -> None:
    connection.request("GET", PREFIX + "/invocation/next")
    agent.send_invoke(b"{}", request_id=request_id)
    response = connection.getresponse()
    response.read()
    assert response.getheader("Lambda-Runtime-Aws-Request-Id") == request_id


def test_answers_to_the_wrong_invocation_are_refused(
    agent: Agent, runtime_api: Callable[[], http.client.HTTPConnection]
) -> None:
    connection = runtime_api()
    deliver(agent, connection, "req-1")
    status, _, body = request(connection, "POST", "/invocation/someone-else/response", b"1")
    assert status == 400
    assert json.loads(body)["errorType"] == "InvalidRequestID"
    assert request(connection, "POST", "/invocation/req-1/response", b"1")[0] == 202
    status, _, body = request(connection, "POST", "/invocation/req-1/response", b"2")
    assert status == 409
    assert json.loads(body)["errorType"] == "InvalidStateTransition"
    assert request(connection, "POST", "/invocation/req-1/error", b"{}")[0] == 409
    assert request(connection, "POST", "/init/error", b"{}")[0] == 409  # init is over
    assert agent.receive_result()[1] == b"1"


def test_unknown_paths_and_methods(agent: Agent, runtime_api: Callable[[], http.client.HTTPConnection]) -> None:
    connection = runtime_api()
    assert request(connection, "GET", "/unknown")[0] == 404
    assert request(connection, "GET", "/../2020-01-01/extension/register")[0] == 404
    assert request(connection, "POST", "/invocation/next")[0] == 405
    assert request(connection, "GET", "/init/error")[0] == 405


def test_a_chunked_response_is_reassembled(agent: Agent, runtime_api: Callable[[], http.client.HTTPConnection]) -> None:
    connection = runtime_api()
    deliver(agent, connection, "req-c")
    connection.request(
        "POST",
        PREFIX + "/invocation/req-c/response",
        body=iter([b'{"parts": [', b'"a", ', b'"b"]}']),
        encode_chunked=True,
    )
    response = connection.getresponse()
    assert (response.status, response.read()) == (202, b'{"status":"OK"}')
    assert agent.receive_result()[1] == b'{"parts": ["a", "b"]}'


def test_a_parked_next_does_not_hold_up_other_connections(
    agent: Agent, runtime_api: Callable[[], http.client.HTTPConnection]
) -> None:
    first, second = runtime_api(), runtime_api()
    deliver(agent, first, "req-1")
    second.request("GET", PREFIX + "/invocation/next")  # parked: no invocation is waiting
    assert request(first, "POST", "/invocation/req-1/response", b'"one"')[0] == 202
    assert agent.receive_result()[1] == b'"one"'
    agent.send_invoke(b'"two"', request_id="req-2")
    response = second.getresponse()
    assert (response.getheader("Lambda-Runtime-Aws-Request-Id"), response.read()) == ("req-2", b'"two"')


@pytest.mark.parametrize(
    ("headers", "body", "error_type"),
    [
        ({"Lambda-Runtime-Function-Error-Type": "Custom.Failure"}, b'{"errorType": "Ignored"}', "Custom.Failure"),
        ({}, b'{"errorMessage": "boom", "errorType": "KeyError"}', "KeyError"),
        ({}, b"not json", "Unhandled"),
    ],
)
def test_the_error_type_of_a_posted_error(
    agent: Agent,
    runtime_api: Callable[[], http.client.HTTPConnection],
    headers: dict[str, str],
    body: bytes,
    error_type: str,
) -> None:
    connection = runtime_api()
    deliver(agent, connection, "req-e")
    connection.request("POST", PREFIX + "/invocation/req-e/error", body=body, headers=headers)
    assert connection.getresponse().status == 202
    result, result_body = agent.receive_result()
    assert (result["status"], result["error_type"], result_body) == ("error", error_type, body)


def test_an_init_error_answers_the_invocation_waiting_for_init(agent: Agent, write: Callable[..., Path]) -> None:
    write("bootstrap", SLEEPING_BOOTSTRAP, executable=True)
    agent.init(runtime="provided")
    host, _, port = agent.runtime_api().rpartition(":")
    agent.send_invoke(b"{}", request_id="req-i")
    connection = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    document = b'{"errorMessage": "no config", "errorType": "Config.Missing"}'
    assert (
        request(connection, "POST", "/init/error", document, Lambda_Runtime_Function_Error_Type="Config.Missing")[0]
        == 202
    )
    result, body = agent.receive_result()
    assert (result["request_id"], result["status"], result["error_type"]) == ("req-i", "init_error", "Config.Missing")
    assert body == document
    assert result["init_duration_ms"] > 0 and result["duration_ms"] == 0
    assert request(connection, "POST", "/init/error", document)[0] == 409
    connection.close()


def test_a_response_over_six_megabytes_fails_the_invocation(
    agent: Agent, runtime_api: Callable[[], http.client.HTTPConnection]
) -> None:
    connection = runtime_api()
    deliver(agent, connection, "req-big")
    try:
        status = request(connection, "POST", "/invocation/req-big/response", b"x" * 6_400_000)[0]
    except ConnectionError:  # the agent may close before reading all of the body
        status = 413
    assert status == 413
    result, body = agent.receive_result()
    assert (result["status"], result["error_type"]) == ("error", "Function.ResponseSizeTooLarge")
    assert json.loads(body)["errorMessage"].startswith("Response payload size exceeded maximum allowed payload size")


def test_a_runtime_that_exits_during_init_fails_init(agent: Agent, write: Callable[..., Path]) -> None:
    write("bootstrap", "#!/bin/sh\necho 'missing configuration' >&2\nexit 3\n", executable=True)
    agent.init(runtime="provided")
    result, body = agent.invoke({}, request_id="req-x")
    assert result["status"] == "init_error"
    assert result["error_type"] == "Runtime.ExitError"
    assert (result["exit_code"], result["exit_signal"]) == (3, None)
    assert body == {
        "errorType": "Runtime.ExitError",
        "errorMessage": "RequestId: req-x Error: Runtime exited with error: exit status 3",
    }
    assert result["log"] == "missing configuration\n"
    assert result["init_duration_ms"] is not None


@pytest.mark.parametrize("mode", [None, 0o644])
def test_a_missing_or_unexecutable_bootstrap_is_an_invalid_entrypoint(
    agent: Agent, task_root: Path, mode: int | None
) -> None:
    if mode is not None:
        (task_root / "bootstrap").write_text("#!/bin/sh\n")
        (task_root / "bootstrap").chmod(mode)
    agent.init(runtime="provided")
    result, body = agent.invoke({})
    assert (result["status"], result["error_type"]) == ("init_error", "Runtime.InvalidEntrypoint")
    assert body["errorMessage"].startswith("Couldn't find valid bootstrap(s)")


def test_sigterm_stops_the_agent_and_its_runtime(agent: Agent, write: Callable[..., Path]) -> None:
    write("app.py", "import os\n\ndef handler(event, context):\n    return os.getpid()\n")
    agent.init()
    _, runtime_pid = agent.invoke({})
    agent.process.send_signal(signal.SIGTERM)
    assert agent.process.wait(TIMEOUT) == 0
    assert process_gone(runtime_pid)


def test_a_later_connection_invokes_only_with_the_current_lease_token(agent: Agent, write: Callable[..., Path]) -> None:
    write("app.py", "calls = 0\n\ndef handler(event, context):\n    global calls\n    calls += 1\n    return calls\n")
    agent.init()
    intruder = agent.connect()
    frame = {"op": "invoke", "request_id": "r1", "deadline_ms": int(time.time() * 1000) + 30_000,
             "invoked_function_arn": "arn"}
    protocol.send(intruder, frame, b"{}")  # not lent: no token is good
    assert protocol.receive(intruder)[0] == {"op": "result", "status": "refused", "request_id": "r1"}
    protocol.send(agent.sock, {"op": "lend", "token": "secret"})
    assert protocol.receive(agent.sock)[0] == {"op": "lent"}
    protocol.send(intruder, {**frame, "token": "guessed"}, b"{}")
    assert protocol.receive(intruder)[0]["status"] == "refused"
    holder = agent.connect()
    protocol.send(holder, {**frame, "request_id": "r2", "token": "secret"}, b"{}")
    result, body = protocol.receive(holder)
    assert (result["status"], body) == ("success", b"1")  # the refused ones never ran
    protocol.send(agent.sock, {"op": "revoke"})
    assert protocol.receive(agent.sock)[0] == {"op": "revoked", "busy": False}
    assert protocol.receive(holder)[0]["status"] == "refused"  # told, then closed
    assert holder.recv(1) == b""
    assert agent.invoke({})[1] == 2  # the executor's own connection serves on


def test_the_agent_keeps_the_deadline_and_ends_a_lent_sandbox_that_timed_out(
    agent: Agent, write: Callable[..., Path]
) -> None:
    write("app.py", "import time\n\ndef handler(event, context):\n    time.sleep(30)\n")
    agent.init()
    protocol.send(agent.sock, {"op": "lend", "token": "secret"})
    assert protocol.receive(agent.sock)[0] == {"op": "lent"}
    holder = agent.connect()
    started = time.monotonic()
    protocol.send(holder, {"op": "invoke", "request_id": "r", "deadline_ms": int(time.time() * 1000) + 300,
                           "invoked_function_arn": "arn", "token": "secret"}, b"{}")
    result, _ = protocol.receive(holder)
    assert result["status"] == "timeout" and time.monotonic() - started < 5
    assert agent.sock.recv(1) == b""  # the executor is told: the connection ends


@pytest.mark.parametrize("ending", ["the holder hangs up", "the lend is revoked"])
def test_a_lent_sandbox_whose_runtime_died_under_a_holder_ends_once_that_holder_is_done(
    agent: Agent, write: Callable[..., Path], ending: str
) -> None:
    write("app.py", "import os\n\ndef handler(event, context):\n    os.kill(os.getpid(), 9)\n")
    agent.init()
    protocol.send(agent.sock, {"op": "lend", "token": "secret"})
    assert protocol.receive(agent.sock)[0] == {"op": "lent"}
    holder = agent.connect()
    protocol.send(holder, {"op": "invoke", "request_id": "r", "deadline_ms": int(time.time() * 1000) + 30_000,
                           "invoked_function_arn": "arn", "token": "secret"}, b"{}")
    result, body = protocol.receive(holder)
    assert (result["status"], result["exit_signal"]) == ("crashed", signal.SIGKILL)
    agent.sock.settimeout(0.5)
    with pytest.raises(TimeoutError):  # the sandbox, and the counters its holder reads, live on meanwhile
        agent.sock.recv(1)
    agent.sock.settimeout(TIMEOUT)
    if ending == "the holder hangs up":
        holder.close()
    else:  # a holder that keeps its connection, and its lease expires
        protocol.send(agent.sock, {"op": "revoke"})
        assert protocol.receive(agent.sock)[0] == {"op": "revoked", "busy": False}
    assert agent.sock.recv(1) == b""


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        ([{"op": "invoke", "request_id": "r", "deadline_ms": 1, "invoked_function_arn": "a"}], "invoke before init"),
        ([{"op": "dance"}], "unknown op 'dance'"),
        ([{"op": "init", "runtime": "python3.12"}], "init: memory_size must be an integer"),
    ],
)
def test_a_protocol_error_stops_the_agent(agent: Agent, frames: list[dict], message: str) -> None:
    for frame in frames:
        protocol.send(agent.sock, frame)
    assert agent.process.wait(TIMEOUT) == 1
    assert message in agent.stderr()


def test_a_second_init_is_a_protocol_error(agent: Agent, write: Callable[..., Path]) -> None:
    write("app.py", "def handler(event, context):\n    return 1\n")
    agent.init()
    agent.init()
    assert agent.process.wait(TIMEOUT) == 1
    assert "already initialized" in agent.stderr()


def test_the_agent_exits_when_the_platform_leaves_before_init(agent: Agent) -> None:
    assert agent.close() == 0


def test_the_agent_greets_the_platform_with_its_pid(agent: Agent) -> None:
    assert agent.ready == {"op": "ready", "pid": agent.process.pid}


@pytest.mark.parametrize(
    ("arguments", "status", "message"),
    [
        (["--socket-fd", "0"], 1, "cannot listen: [Errno 88] Socket operation on non-socket"),  # /dev/null
        (["--socket-fd", "99"], 1, "cannot listen: [Errno 9] Bad file descriptor"),
        (["--socket-fd", "{connected}"], 1, "is not a listening Unix socket"),
        ([], 2, "--socket-fd or --listen and --runtime-api missing"),
    ],
)
def test_the_agent_needs_an_inherited_listening_socket(arguments: list[str], status: int, message: str) -> None:
    runtime_api = ["--runtime-api", "127.0.0.1:0"] if arguments else []
    mine, theirs = socket.socketpair()
    with mine, theirs:
        arguments = [argument.format(connected=theirs.fileno()) for argument in arguments]
        result = subprocess.run([sys.executable, "-I", "-S", str(ROOT / "runtimes" / "agent" / "__main__.py"),
                                 *arguments, *runtime_api], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=TIMEOUT, env={}, pass_fds=[theirs.fileno()])
    assert result.returncode == status and message in result.stderr
