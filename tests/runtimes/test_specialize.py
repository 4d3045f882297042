"""Specializing: the agent fetches the function's zip over HTTP, checks it and unpacks it into the task root."""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.runtimes.conftest import TcpAgent, free_port
from tests.runtimes.packages import SYMLINK, PackageServer, lie_about_sizes, zip_of

APP = """
import os

def handler(event, context):
    return {"echo": event, "cwd": os.getcwd(), "helper": __import__("lib.helper").helper.VALUE}
"""
APP_FILES = {"app.py": APP, "lib/__init__.py": "", "lib/helper.py": "VALUE = 42\n"}


@pytest.fixture
def server() -> Iterator[PackageServer]:
    server = PackageServer()
    yield server
    server.close()


@pytest.fixture
def agent(start_tcp_agent: Callable[..., TcpAgent]) -> TcpAgent:
    return start_tcp_agent()


def test_the_code_fetched_is_what_init_runs(agent: TcpAgent, server: PackageServer) -> None:
    assert agent.specialize(server.publish(zip_of(APP_FILES))) == {"op": "specialized"}
    assert server.requests == ["/code.zip?signature=abc"]
    agent.init()
    result, body = agent.invoke({"n": 1})
    assert result["status"] == "success", body
    assert body == {"echo": {"n": 1}, "cwd": str(agent.task_root), "helper": 42}


def test_file_modes_are_kept_so_a_bootstrap_stays_executable(agent: TcpAgent, server: PackageServer) -> None:
    files = {"bootstrap": "#!/bin/sh\nexit 3\n", "data/readme.txt": "hello", "data/": ""}
    modes = {"bootstrap": 0o100755, "data/readme.txt": 0o100640, "data/": 0o040750}
    assert agent.specialize(server.publish(zip_of(files, modes=modes))) == {"op": "specialized"}
    assert stat.S_IMODE((agent.task_root / "bootstrap").stat().st_mode) == 0o755
    assert stat.S_IMODE((agent.task_root / "data" / "readme.txt").stat().st_mode) == 0o640
    assert stat.S_IMODE((agent.task_root / "data").stat().st_mode) == 0o750
    agent.init(runtime="provided.al2023")
    result, body = agent.invoke({})
    assert (result["status"], result["exit_code"]) == ("init_error", 3), body  # it ran: it was executable


def test_no_setuid_bit_survives(agent: TcpAgent, server: PackageServer) -> None:
    package = zip_of({"tool": "x"}, modes={"tool": 0o104755})
    assert agent.specialize(server.publish(package)) == {"op": "specialized"}
    assert stat.S_IMODE((agent.task_root / "tool").stat().st_mode) == 0o755


@pytest.mark.parametrize(("package", "max_bytes", "error"), [
    (zip_of({"app.py": APP, "../escape.py": "x"}), 1 << 20, "'../escape.py' leaves the task root"),
    (zip_of({"app.py": APP, "lib/../../escape.py": "x"}), 1 << 20, "leaves the task root"),
    (zip_of({"app.py": APP, "/escape.py": "x"}), 1 << 20, "'/escape.py' is not a relative path"),
    (zip_of({"app.py": APP, "link": "/etc/passwd"}, modes={"link": SYMLINK | 0o777}), 1 << 20,
     "'link' is a symbolic link"),
    (zip_of({"app.py": APP, "fifo": ""}, modes={"fifo": 0o010644}), 1 << 20, "neither a regular file nor a folder"),
    (zip_of({"app.py": APP, "zeros": bytes(8 << 20)}), 1 << 20, "its entries say they hold more than"),
    (lie_about_sizes(zip_of({"app.py": "x = 12345\n", "zeros": bytes(8 << 20)}), size=10), 1 << 20,
     "it inflates to more than max_bytes"),
    (lie_about_sizes(zip_of({"app.py": "x = 1\n" * 100}), size=10), 1 << 20, "is not the 10 bytes"),
    (b"PK\x03\x04 this is no zip", 1 << 20, "not a zip"),
    (zip_of({"app.py": APP, "lib/": "", "lib": ""}, modes={"lib/": 0o040755}), 1 << 20,
     "'lib' comes twice"),
    (zip_of({"app.py": APP, "lib": "", "lib/x.py": ""}), 1 << 20, "'lib' is both a file and a folder"),
])
def test_a_package_that_cannot_be_unpacked_leaves_the_task_root_empty(
        agent: TcpAgent, server: PackageServer, package: bytes, max_bytes: int, error: str) -> None:
    answer = agent.specialize(server.publish(package, max_bytes=max_bytes))
    assert answer["op"] == "specialized" and error in answer["error"], answer
    assert list(agent.task_root.iterdir()) == []
    assert list(agent.task_root.parent.iterdir()) == [agent.task_root]  # nothing escaped either
    assert agent.process.poll() is None


def test_the_message_names_the_wrong_sum(agent: TcpAgent, server: PackageServer) -> None:
    answer = agent.specialize(server.publish(zip_of(APP_FILES), sha256="0" * 64))
    assert answer["error"].startswith("specialize: the package's SHA-256 is ") and answer["error"].endswith("0" * 64)
    assert server.requests and list(agent.task_root.iterdir()) == []


@pytest.mark.parametrize(("code", "error"), [
    ({"url": "http://127.0.0.1:{closed}/code.zip", "sha256": "0" * 64, "max_bytes": 10}, "cannot connect"),
    ({"url": "http://127.0.0.1:{port}/missing.zip", "sha256": "0" * 64, "max_bytes": 10}, "answered 404"),
    ({"url": "http://127.0.0.1:{port}/code.zip?signature=abc", "sha256": "{sha}", "max_bytes": 100},
     "over the limit of 100"),
    ({"url": "https://127.0.0.1/code.zip", "sha256": "0" * 64, "max_bytes": 10}, "must be http://"),
    ({"url": "http://127.0.0.1/a b", "sha256": "0" * 64, "max_bytes": 10}, "malformed"),
    ({"url": "http://127.0.0.1/", "sha256": "nope", "max_bytes": 10}, "code.sha256 must be 64 hex digits"),
    ({"url": "http://127.0.0.1/", "sha256": "0" * 64, "max_bytes": True}, "code.max_bytes must be a positive"),
    ("http://127.0.0.1/code.zip", "code must be an object"),
])
def test_a_package_that_cannot_be_fetched_is_an_error(agent: TcpAgent, server: PackageServer, code: object,
                                                      error: str) -> None:
    published = server.publish(zip_of(APP_FILES))
    if isinstance(code, dict):
        code = {name: value.format(closed=free_port(), port=server.port, sha=published["sha256"])
                if isinstance(value, str) else value for name, value in code.items()}
    answer = agent.specialize(code)
    assert answer["op"] == "specialized" and error in answer["error"], answer
    assert list(agent.task_root.iterdir()) == []


def test_specialize_is_accepted_once(agent: TcpAgent, server: PackageServer) -> None:
    assert agent.specialize(server.publish(zip_of(APP_FILES))) == {"op": "specialized"}
    other = server.publish(zip_of({"other.py": ""}), path="/other.zip")
    answer = agent.specialize(other)
    assert answer == {"op": "specialized", "error": "specialize: the sandbox is already specialized"}
    assert sorted(path.name for path in agent.task_root.iterdir()) == ["app.py", "lib"]
    agent.init()
    assert agent.invoke({})[0]["status"] == "success"


def test_a_failed_specialize_is_not_retried(agent: TcpAgent, server: PackageServer) -> None:
    assert "error" in agent.specialize(server.publish(zip_of(APP_FILES), sha256="0" * 64))
    assert "already specialized" in agent.specialize(server.publish(zip_of(APP_FILES)))["error"]
    assert list(agent.task_root.iterdir()) == []


def test_specialize_after_init_is_refused(agent: TcpAgent, server: PackageServer, write: Callable[..., Path]) -> None:
    write("app.py", "def handler(event, context):\n    return 1\n")
    agent.init()
    answer = agent.specialize(server.publish(zip_of(APP_FILES)))
    assert answer == {"op": "specialized", "error": "specialize: the sandbox is already initialized"}
    assert server.requests == []
    assert agent.invoke({})[1] == 1


def test_a_task_root_that_is_not_empty_is_left_alone(agent: TcpAgent, server: PackageServer,
                                                     write: Callable[..., Path]) -> None:
    write("mine.py", "")
    answer = agent.specialize(server.publish(zip_of(APP_FILES)))
    assert answer["error"] == "specialize: the task root is not empty"
    assert [path.name for path in agent.task_root.iterdir()] == ["mine.py"]
