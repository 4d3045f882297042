"""Synchronous invoke through the API into real sandboxes run by a real executor process.

Each test asks, from inside a function, what a tenant could see or do, and checks it
against what isolation promises: no host uid 0, no host files, no host environment, no
host network, bounded processes and memory, nothing left running after the sandbox ends.
"""

import base64
import json
import os
import stat
import sys
import time
import zipfile
from io import BytesIO
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import b64, make_zip

pytestmark = pytest.mark.sandbox

PROBES = r'''
import json, os, socket, subprocess, time
counter = 0

def handler(event, context):
    return {"event": event, "request_id": context.aws_request_id, "arn": context.invoked_function_arn,
            "version": context.function_version, "memory": context.memory_limit_in_mb,
            "remaining": context.get_remaining_time_in_millis(), "name": context.function_name,
            "stream": context.log_stream_name, "group": context.log_group_name}

def count(event, context):
    global counter
    counter += 1
    return counter

def fail(event, context):
    raise KeyError("missing thing")

def crash(event, context):
    os._exit(3)

def hang(event, context):
    subprocess.Popen(["/usr/bin/sleep", "31338.5"])
    while True:
        time.sleep(1)

def hog(event, context):
    chunks = []
    while True:
        chunks.append(bytearray(16 * 1024 * 1024))

def probe(event, context):
    found = {"uid": os.getuid(), "gid": os.getgid(), "env": dict(os.environ)}
    for path in event["paths"]:
        try:
            with open(path, "rb") as handle:
                handle.read(1)
            found[path] = "readable"
        except OSError as exc:
            found[path] = type(exc).__name__
    with open("/proc/1/environ", "rb") as handle:
        found["pid1_environ"] = handle.read().decode(errors="replace")
    try:
        socket.create_connection(("127.0.0.1", event["port"]), timeout=1).close()
        found["network"] = "connected"
    except OSError as exc:
        found["network"] = type(exc).__name__
    return found

def fork_bomb(event, context):
    children = 0
    try:
        while children < 5000:
            pid = os.fork()
            if pid == 0:
                time.sleep(60)
                os._exit(0)
            children += 1
    except OSError as exc:
        return {"children": children, "error": exc.errno}
    return {"children": children, "error": None}

def daemon(event, context):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv("/usr/bin/sleep", ["sleep", "31339.5"])
        os._exit(0)
    return "started"
'''


@pytest.fixture
def function(api, create_function, real_executor):
    def make(handler, **overrides):
        name = overrides.pop("name", handler.replace("_", "-"))
        create_function(name, handler=f"app.{handler}", zip_file=b64(make_zip({"app.py": PROBES})), **overrides)
        return name
    return make


def invoke(api, name, payload=None, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return api.generic("POST", f"/api/v1/functions/{name}/invoke?{query}", json.dumps(payload or {}).encode(),
                       content_type="application/json")


def host_processes(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def wait_until(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_round_trip_and_context(api, function):
    name = function("handler", memory_size=256, timeout=5)
    response = invoke(api, name, {"x": [1, 2]}, log="tail")
    assert response.status_code == 200, response.content
    body = json.loads(response.content)
    assert body["event"] == {"x": [1, 2]}
    assert body["request_id"] == response["X-Lambent-Request-Id"]
    assert body["arn"].endswith(f":function:{name}")
    assert (body["version"], body["memory"], body["name"]) == ("$LATEST", 256, name)
    assert 0 < body["remaining"] <= 5000
    assert body["group"] == f"/aws/lambda/{name}"
    log = base64.b64decode(response["X-Lambent-Log-Result"]).decode()
    assert "Init Duration:" in log and "Max Memory Used:" in log


def test_handled_error(api, function):
    response = invoke(api, function("fail"))
    assert response["X-Lambent-Function-Error"] == "Unhandled"
    error = json.loads(response.content)
    assert error["errorType"] == "KeyError" and "missing thing" in error["errorMessage"]
    assert error["stackTrace"]


def test_crash_is_unhandled(api, function):
    response = invoke(api, function("crash"))
    assert response["X-Lambent-Function-Error"] == "Unhandled"
    assert json.loads(response.content)["errorType"] == "Runtime.ExitError"


def test_import_error(api, create_function, real_executor):
    create_function("broken", zip_file=b64(make_zip({"app.py": "import no_such_module\n"})))
    response = invoke(api, "broken")
    assert response["X-Lambent-Function-Error"] == "Unhandled"
    assert json.loads(response.content)["errorType"] == "Runtime.ImportModuleError"


def test_timeout_kills_the_whole_tree(api, function):
    name = function("hang", timeout=1)
    started = time.monotonic()
    response = invoke(api, name)
    assert time.monotonic() - started < 10
    assert response["X-Lambent-Function-Error"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in json.loads(response.content)["errorMessage"]
    assert wait_until(lambda: not host_processes("31338.5"), timeout=5)


def test_out_of_memory(api, function):
    response = invoke(api, function("hog", memory_size=128))
    assert response["X-Lambent-Function-Error"] == "Unhandled"
    assert json.loads(response.content)["errorType"] == "Runtime.OutOfMemory"
    invocation = api.get(f"/api/v1/invocations/{response['X-Lambent-Request-Id']}").json()
    assert invocation["status"] == "failed" and invocation["max_memory_used_mb"] >= 100


def test_warm_reuse_and_a_new_version_starts_fresh(api, function):
    name = function("count")
    assert [json.loads(invoke(api, name).content) for _ in range(3)] == [1, 2, 3]
    api.post(f"/api/v1/functions/{name}/versions", format="json")
    assert json.loads(invoke(api, name, qualifier="1").content) == 1
    api.patch(f"/api/v1/functions/{name}", {"timeout": 7}, format="json")
    assert json.loads(invoke(api, name).content) == 1


def test_isolation_seen_from_inside(api, function):
    name = function("probe", environment={"OWN_VARIABLE": "mine"})
    project_file = str(settings.BASE_DIR / "platform" / "lambent" / "settings.py")
    data_file = str(settings.DATA_DIR / "secret_key")
    response = invoke(api, name, {"paths": ["/etc/shadow", "/etc/passwd", project_file, data_file],
                                  "port": 5432 if settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
                                  else int(os.environ.get("LAMBENT_TEST_PROBE_PORT", 6379))})
    found = json.loads(response.content)
    assert found["uid"] != 0 and found["gid"] != 0
    for path in ["/etc/shadow", "/etc/passwd", project_file, data_file]:
        assert found[path] in ("FileNotFoundError", "PermissionError"), (path, found[path])
    assert found["env"]["OWN_VARIABLE"] == "mine"
    assert found["env"]["AWS_LAMBDA_FUNCTION_NAME"] == name
    everything_visible = json.dumps(found["env"]) + found["pid1_environ"]
    assert "host-secret-4711" not in everything_visible
    for host_variable in ("LAMBENT_DATA_DIR", "DJANGO_SETTINGS_MODULE", "HOME", "LAMBENT_TEST_MARKER"):
        assert host_variable not in found["env"] and host_variable not in found["pid1_environ"]
    assert found["network"] in ("ConnectionRefusedError", "TimeoutError", "OSError")


def test_fork_bomb_is_contained(api, function):
    response = invoke(api, function("fork_bomb", timeout=30, memory_size=2048))
    result = json.loads(response.content)
    assert "error" in result and result["error"] is not None, result
    assert result["children"] < 1024
    assert os.fork  # the host still forks:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def test_a_daemon_is_gone_once_its_sandbox_is_reaped(api, function):
    assert json.loads(invoke(api, function("daemon")).content) == "started"
    assert wait_until(lambda: host_processes("31339.5"), timeout=5), "the daemon should run while its sandbox lives"
    assert wait_until(lambda: not host_processes("31339.5"), timeout=20), "keep-alive 2 s: reaped by now"


def test_payload_over_6_mb_is_413(api, function):
    name = function("handler")
    body = b'"' + b"x" * (6 * 1024 * 1024) + b'"'
    assert api.generic("POST", f"/api/v1/functions/{name}/invoke", body).status_code == 413


def _awslambdaric_zip(handler_source: str) -> bytes:
    """The official runtime interface client, bundled with the code as users do for `provided`."""
    import awslambdaric
    import simplejson
    import snapshot_restore_py

    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for module in (awslambdaric, simplejson):
            root = Path(module.__file__).parent
            for path in root.rglob("*"):
                if path.is_file() and "__pycache__" not in path.parts:
                    archive.write(path, f"{root.name}/{path.relative_to(root)}")
        archive.write(snapshot_restore_py.__file__, "snapshot_restore_py.py")
        native = Path(awslambdaric.__file__).parent.parent.glob("runtime_client.*.so")
        for extension in native:  # the C++ Runtime API client the package imports at top level
            archive.write(extension, extension.name)
        archive.writestr("handler.py", handler_source)
        python = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
        assert Path(python).exists(), f"{python} must exist for the bundled awslambdaric's C extension"
        bootstrap = zipfile.ZipInfo("bootstrap")
        bootstrap.external_attr = (stat.S_IFREG | 0o755) << 16
        archive.writestr(bootstrap, f"#!/bin/sh\ncd /var/task\nexec {python} -m awslambdaric handler.fn\n")
    return buffer.getvalue()


def test_the_official_runtime_client_runs_unchanged(api, create_function, real_executor):
    source = "def fn(event, context):\n    if event.get('fail'):\n        raise RuntimeError('asked to')\n" \
             "    return {'ric': True, 'request_id': context.aws_request_id, 'event': event}\n"
    create_function("ric", runtime="provided", handler="handler.fn", zip_file=b64(_awslambdaric_zip(source)),
                    timeout=30)
    response = invoke(api, "ric", {"hello": 1})
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body == {"ric": True, "request_id": response["X-Lambent-Request-Id"], "event": {"hello": 1}}
    failed = invoke(api, "ric", {"fail": True})
    assert failed["X-Lambent-Function-Error"] == "Unhandled"
    error = json.loads(failed.content)
    assert (error["errorType"], error["errorMessage"]) == ("RuntimeError", "asked to")

