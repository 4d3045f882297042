"""The Python runtime end to end: a real agent forks ``runtimes/python/bootstrap.py`` and runs handlers."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from pathlib import Path

from tests.runtimes.conftest import Agent, process_gone, wait_until

ECHO = """
def handler(event, context):
    return event
"""


def test_a_dict_event_round_trips_to_a_dict_result(agent: Agent, write: Callable[..., Path]) -> None:
    write("app.py", "def handler(event, context):\n    return {'got': event, 'answer': 42}\n")
    agent.init()
    result, body = agent.invoke({"name": "Ada", "tags": [1, 2]})
    assert result["status"] == "success"
    assert result["error_type"] is None
    assert body == {"got": {"name": "Ada", "tags": [1, 2]}, "answer": 42}
    assert result["exit_code"] is None and result["exit_signal"] is None


def test_the_context_carries_every_field(agent: Agent, write: Callable[..., Path]) -> None:
    write(
        "app.py",
        """
        def handler(event, context):
            client = context.client_context
            return {
                "aws_request_id": context.aws_request_id,
                "function_name": context.function_name,
                "function_version": context.function_version,
                "invoked_function_arn": context.invoked_function_arn,
                "memory_limit_in_mb": context.memory_limit_in_mb,
                "log_group_name": context.log_group_name,
                "log_stream_name": context.log_stream_name,
                "remaining": context.get_remaining_time_in_millis(),
                "custom": client.custom,
                "env": client.env,
                "installation_id": client.client.installation_id,
                "identity_id": context.identity.cognito_identity_id,
                "identity_pool_id": context.identity.cognito_identity_pool_id,
            }
        """,
    )
    agent.init()
    client_context = {"client": {"installation_id": "inst-1"}, "custom": {"k": "v"}, "env": {"platform": "ios"}}
    result, body = agent.invoke(
        {},
        request_id="req-1",
        client_context=base64.b64encode(json.dumps(client_context, indent=2).encode()).decode(),
        cognito_identity=json.dumps({"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}),
    )
    assert result["status"] == "success", body
    assert isinstance(body, dict)
    remaining = body.pop("remaining")
    assert 25_000 < remaining <= 30_000
    assert body == {
        "aws_request_id": "req-1",
        "function_name": "my-function",
        "function_version": "7",
        "invoked_function_arn": "arn:aws:lambda:eu-west-3:000000000000:function:my-function:live",
        "memory_limit_in_mb": 256,
        "log_group_name": "/aws/lambda/my-function",
        "log_stream_name": "2026/01/01/[7]abc",
        "custom": {"k": "v"},
        "env": {"platform": "ios"},
        "installation_id": "inst-1",
        "identity_id": "id-1",
        "identity_pool_id": "pool-1",
    }


def test_no_client_context_or_identity_is_none(agent: Agent, write: Callable[..., Path]) -> None:
    write("app.py", "def handler(event, context):\n    return [context.client_context, context.identity]\n")
    agent.init()
    assert agent.invoke({})[1] == [None, None]


ENVIRONMENT_HANDLER = """
import os, subprocess

def handler(event, context):
    child = subprocess.run(["/usr/bin/env"], capture_output=True, text=True, check=True).stdout
    return {"environ": dict(os.environ), "child": child, "cwd": os.getcwd()}
"""


def test_the_runtime_sees_only_its_own_environment(
    start_agent: Callable[..., Agent], write: Callable[..., Path], task_root: Path
) -> None:
    write("app.py", ENVIRONMENT_HANDLER)
    agent = start_agent({"AGENT_SECRET_MARKER": "must-not-leak"})
    agent.init(environment={"GREETING": "hello", "AWS_REGION": "overridden-by-the-platform", "LANG": "fr_FR.UTF-8"})
    result, body = agent.invoke({}, trace_id="Root=1-abc")
    assert result["status"] == "success", body
    assert isinstance(body, dict)
    environ = body["environ"]
    assert environ["GREETING"] == "hello"
    assert environ["LANG"] == "fr_FR.UTF-8"  # not reserved: the function may set it, as on Lambda
    assert environ["AWS_REGION"] == environ["AWS_DEFAULT_REGION"] == "eu-west-3"
    assert environ["AWS_LAMBDA_FUNCTION_NAME"] == "my-function"
    assert environ["AWS_LAMBDA_FUNCTION_VERSION"] == "7"
    assert environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert environ["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/my-function"
    assert environ["AWS_LAMBDA_LOG_STREAM_NAME"] == "2026/01/01/[7]abc"
    assert environ["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert environ["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert environ["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert environ["_HANDLER"] == "app.handler"
    assert environ["_X_AMZN_TRACE_ID"] == "Root=1-abc"
    assert environ["LAMBDA_TASK_ROOT"] == str(task_root) == body["cwd"]
    assert environ["LAMBDA_RUNTIME_DIR"] == "/var/runtime"
    assert environ["TZ"] == ":UTC"
    assert environ["PYTHONUNBUFFERED"] == "1"
    assert "AGENT_SECRET_MARKER" not in environ
    assert "must-not-leak" not in body["child"]
    assert "GREETING=hello" in body["child"]
    assert not {"HOME", "PYTHONPATH", "VIRTUAL_ENV"} & environ.keys()


def test_nothing_of_the_launchers_environment_shows_in_proc_environ(agent: Agent, write: Callable[..., Path]) -> None:
    # The agent starts from an empty environment, as the executor starts it: the forked runtime's
    # /proc/self/environ (the agent's exec-time block) then holds nothing of whoever launched it.
    write("app.py", "def handler(event, context):\n    return open('/proc/self/environ').read()\n")
    os.environ["TEST_RUNNER_MARKER"] = "runner"
    try:
        agent.init()
        result, body = agent.invoke({})
    finally:
        del os.environ["TEST_RUNNER_MARKER"]
    assert result["status"] == "success"
    assert body == ""


def test_module_code_runs_once_per_sandbox(agent: Agent, write: Callable[..., Path]) -> None:
    write(
        "app.py",
        """
        import os
        count = 0

        def handler(event, context):
            global count
            count += 1
            return [count, os.getpid()]
        """,
    )
    agent.init()
    results = [agent.invoke({})[1] for _ in range(3)]
    assert [count for count, _ in results] == [1, 2, 3]
    assert len({pid for _, pid in results}) == 1


def test_a_handled_exception_is_a_function_error(agent: Agent, write: Callable[..., Path]) -> None:
    write(
        "app.py",
        """
        def fail(value):
            raise ValueError(f"boom {value}")

        def handler(event, context):
            fail(event["value"])
        """,
    )
    agent.init()
    result, body = agent.invoke({"value": 3}, request_id="req-err")
    assert result["status"] == "error"
    assert result["error_type"] == "ValueError"
    assert isinstance(body, dict)
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "boom 3"
    assert body["requestId"] == "req-err"
    assert len(body["stackTrace"]) == 2
    assert all("app.py" in frame for frame in body["stackTrace"])
    assert 'raise ValueError(f"boom {value}")' in body["stackTrace"][-1]
    assert "[ERROR] ValueError: boom 3\nTraceback (most recent call last):\n" in result["log"]
    assert "bootstrap.py" not in result["log"]
    # The sandbox goes on serving after a function error.
    assert agent.invoke({"value": 4})[0]["status"] == "error"


def test_an_event_that_is_not_json_is_an_unmarshal_error(agent: Agent, write: Callable[..., Path]) -> None:
    write("app.py", ECHO)
    agent.init()
    result, body = agent.invoke_raw(b"{not json")
    assert result["status"] == "error"
    assert result["error_type"] == "Runtime.UnmarshalError"
    assert json.loads(body)["errorMessage"].startswith("Unable to unmarshal input: ")


def test_an_empty_event_is_none(agent: Agent, write: Callable[..., Path]) -> None:
    write("app.py", "def handler(event, context):\n    return {'event': event}\n")
    agent.init()
    result, body = agent.invoke_raw(b"")
    assert json.loads(body) == {"event": None}


def test_a_result_that_is_not_json_is_a_marshal_error(agent: Agent, write: Callable[..., Path]) -> None:
    write(
        "app.py",
        """
        import decimal

        def handler(event, context):
            if event == "decimal":
                return {"price": decimal.Decimal("1.5")}
            return {1, 2}
        """,
    )
    agent.init()
    result, body = agent.invoke("set")
    assert result["status"] == "error"
    assert result["error_type"] == "Runtime.MarshalError"
    assert body["errorMessage"] == "Unable to marshal response: Object of type set is not JSON serializable"
    assert agent.invoke("decimal")[1] == {"price": 1.5}


def test_a_missing_module_is_an_import_error(agent: Agent) -> None:
    agent.init()
    result, body = agent.invoke({})
    assert result["status"] == "init_error"
    assert result["error_type"] == "Runtime.ImportModuleError"
    assert isinstance(body, dict)
    assert body == {
        "errorMessage": "Unable to import module 'app': No module named 'app'",
        "errorType": "Runtime.ImportModuleError",
        "requestId": "",
        "stackTrace": [],
    }
    assert "[ERROR] Runtime.ImportModuleError: Unable to import module 'app'" in result["log"]
    assert result["init_duration_ms"] > 0
    assert result["duration_ms"] == 0
    assert agent.invoke({})[0]["status"] == "init_error"  # the sandbox stays failed


def test_a_failing_import_inside_the_module_reports_its_frames(agent: Agent, write: Callable[..., Path]) -> None:
    write("app.py", "import not_installed_anywhere\n\ndef handler(event, context):\n    return 1\n")
    agent.init()
    result, body = agent.invoke({})
    assert result["error_type"] == "Runtime.ImportModuleError"
    assert isinstance(body, dict)
    assert body["errorMessage"] == "Unable to import module 'app': No module named 'not_installed_anywhere'"
    assert len(body["stackTrace"]) == 1 and "app.py" in body["stackTrace"][0]


def test_a_syntax_error_is_a_user_code_syntax_error(agent: Agent, write: Callable[..., Path]) -> None:
    write("app.py", "def handler(event, context)\n    return 1\n")
    agent.init()
    result, body = agent.invoke({})
    assert result["status"] == "init_error"
    assert result["error_type"] == "Runtime.UserCodeSyntaxError"
    assert isinstance(body, dict)
    assert body["errorMessage"].startswith("Syntax error in module 'app': ")
    assert "app.py" in body["stackTrace"][0]


def test_a_missing_function_is_handler_not_found(agent: Agent, write: Callable[..., Path]) -> None:
    write("app.py", ECHO)
    agent.init(handler="app.missing")
    result, body = agent.invoke({})
    assert result["status"] == "init_error"
    assert result["error_type"] == "Runtime.HandlerNotFound"
    assert body["errorMessage"] == "Handler 'missing' missing on module 'app'"


def test_a_handler_without_a_module_is_malformed(agent: Agent) -> None:
    agent.init(handler="handler")
    result, _ = agent.invoke({})
    assert result["error_type"] == "Runtime.MalformedHandlerName"


def test_an_exception_at_import_fails_init_with_its_class(agent: Agent, write: Callable[..., Path]) -> None:
    write("app.py", "raise KeyError('CONFIG')\n")
    agent.init()
    result, body = agent.invoke({})
    assert result["status"] == "init_error"
    assert result["error_type"] == "KeyError"
    assert body["stackTrace"]


def test_handlers_in_packages_and_folders(agent: Agent, write: Callable[..., Path]) -> None:
    write("pkg/__init__.py", "")
    write("pkg/inner.py", "def run(event, context):\n    return 'dotted'\n")
    agent.init(handler="pkg.inner.run")
    assert agent.invoke({})[1] == "dotted"


def test_a_handler_given_as_a_path(start_agent: Callable[..., Agent], write: Callable[..., Path]) -> None:
    write("src/handlers/__init__.py", "")
    write("src/__init__.py", "")
    write("src/handlers/api.py", "def main(event, context):\n    return 'path'\n")
    agent = start_agent()
    agent.init(handler="src/handlers/api.main")
    assert agent.invoke({})[1] == "path"


def test_user_modules_may_be_named_like_the_agents_packages(agent: Agent, write: Callable[..., Path]) -> None:
    write("agent.py", "NAME = 'user agent'\n")
    write("python.py", "NAME = 'user python'\n")
    write("app.py", "import agent, python\n\ndef handler(event, context):\n    return [agent.NAME, python.NAME]\n")
    agent.init()
    assert agent.invoke({})[1] == ["user agent", "user python"]


def test_a_runtime_that_exits_mid_invocation_has_crashed(agent: Agent, write: Callable[..., Path]) -> None:
    write("app.py", "import os\n\ndef handler(event, context):\n    print('about to exit')\n    os._exit(3)\n")
    agent.init()
    result, body = agent.invoke({}, request_id="req-exit")
    assert result["status"] == "crashed"
    assert result["error_type"] == "Runtime.ExitError"
    assert (result["exit_code"], result["exit_signal"]) == (3, None)
    assert body == {
        "errorType": "Runtime.ExitError",
        "errorMessage": "RequestId: req-exit Error: Runtime exited with error: exit status 3",
    }
    assert "about to exit" in result["log"]
    assert result["duration_ms"] > 0
    follow_up, _ = agent.invoke({})
    assert follow_up["status"] == "crashed" and follow_up["duration_ms"] == 0


def test_a_runtime_killed_by_a_signal_has_crashed(agent: Agent, write: Callable[..., Path]) -> None:
    write("app.py", "import os, signal\n\ndef handler(event, context):\n    os.kill(os.getpid(), signal.SIGKILL)\n")
    agent.init()
    result, body = agent.invoke({}, request_id="req-kill")
    assert result["status"] == "crashed"
    assert (result["exit_code"], result["exit_signal"]) == (None, 9)
    assert body["errorMessage"] == "RequestId: req-kill Error: Runtime exited with error: signal: killed"


def test_sys_exit_in_a_handler_ends_the_runtime(agent: Agent, write: Callable[..., Path]) -> None:
    write("app.py", "import sys\n\ndef handler(event, context):\n    sys.exit(5)\n")
    agent.init()
    result, _ = agent.invoke({})
    assert (result["status"], result["exit_code"]) == ("crashed", 5)


def test_a_runtime_that_dies_while_idle_fails_the_next_invocation(agent: Agent, write: Callable[..., Path]) -> None:
    write(
        "app.py",
        """
        import os, threading

        def handler(event, context):
            threading.Timer(0.05, os._exit, [4]).start()
            return "ok"
        """,
    )
    agent.init()
    assert agent.invoke({})[1] == "ok"
    pid = _runtime_pid(agent)
    wait_until(lambda: process_gone(pid))
    result, body = agent.invoke({}, request_id="req-after")
    assert result["status"] == "crashed"
    assert result["exit_code"] == 4
    assert result["duration_ms"] == 0
    assert body["errorMessage"] == "RequestId: req-after Error: Runtime exited with error: exit status 4"


def _runtime_pid(agent: Agent) -> int:
    """The pid of the agent's only child process, the runtime."""
    children = Path(f"/proc/{agent.process.pid}/task/{agent.process.pid}/children").read_text().split()
    assert len(children) == 1
    return int(children[0])


def test_print_output_is_reported_per_invocation(agent: Agent, write: Callable[..., Path]) -> None:
    write(
        "app.py",
        """
        import sys
        print("loading the module")

        def handler(event, context):
            print(f"out {event}")
            print(f"err {event}", file=sys.stderr)
            return event
        """,
    )
    agent.init()
    first, _ = agent.invoke(1)
    second, _ = agent.invoke(2)
    assert first["log"] == "loading the module\nout 1\nerr 1\n"
    assert second["log"] == "out 2\nerr 2\n"


def test_the_log_keeps_its_last_mebibyte(agent: Agent, write: Callable[..., Path]) -> None:
    write(
        "app.py",
        """
        def handler(event, context):
            for line in range(30_000):
                print(f"line {line:05d} " + "x" * 64)
            print("the end")
        """,
    )
    agent.init()
    result, _ = agent.invoke({})
    assert result["status"] == "success"
    # The end of the last MiB: as much as fits, JSON-escaped, in a frame header of at most 1 MiB.
    assert 1_000_000 < len(result["log"]) < 1 << 20
    assert result["log"].endswith("line 29999 " + "x" * 64 + "\nthe end\n")


def test_a_log_of_escaped_text_still_fits_a_frame_header(agent: Agent, write: Callable[..., Path]) -> None:
    write("app.py", "def handler(event, context):\n    print('\\u00e9\\x01' * 400_000)\n    print('the end')\n")
    agent.init()
    result, _ = agent.invoke({})
    assert result["status"] == "success"
    assert result["log"].endswith("\u00e9\x01\nthe end\n")


def test_init_duration_is_reported_on_the_first_result_only(agent: Agent, write: Callable[..., Path]) -> None:
    write("app.py", "import time\ntime.sleep(0.05)\n" + ECHO)
    agent.init()
    first, _ = agent.invoke({})
    second, _ = agent.invoke({})
    assert first["init_duration_ms"] >= 50
    assert second["init_duration_ms"] is None
    assert first["duration_ms"] > 0 and second["duration_ms"] > 0


def test_a_five_megabyte_payload_round_trips(agent: Agent, write: Callable[..., Path]) -> None:
    write("app.py", ECHO)
    agent.init()
    event = {"data": "x" * (5 * 1000 * 1000)}
    result, body = agent.invoke(event)
    assert result["status"] == "success"
    assert body == event


def test_a_result_over_six_megabytes_fails_and_the_sandbox_goes_on(agent: Agent, write: Callable[..., Path]) -> None:
    write("app.py", "def handler(event, context):\n    return 'x' * event\n")
    agent.init()
    result, body = agent.invoke(6_500_000)
    assert (result["status"], result["error_type"]) == ("error", "Function.ResponseSizeTooLarge")
    assert agent.invoke(3)[1] == "xxx"


def test_the_runtime_is_killed_when_the_platform_leaves(agent: Agent, write: Callable[..., Path]) -> None:
    write(
        "app.py",
        "import os, subprocess\n\ndef handler(event, context):\n"
        "    child = subprocess.Popen(['sleep', '600'])\n    return [os.getpid(), child.pid]\n",
    )
    agent.init()
    result, body = agent.invoke({})
    assert result["status"] == "success"
    runtime_pid, grandchild_pid = body
    assert agent.close() == 0
    assert process_gone(runtime_pid)
    wait_until(lambda: process_gone(grandchild_pid))  # the whole process group went
