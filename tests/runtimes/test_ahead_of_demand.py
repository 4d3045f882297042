"""The agent initialized ahead of demand (provisioned concurrency): init announced, an idle death ends it."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from runtimes.agent import protocol
from tests.runtimes.conftest import TIMEOUT, Agent

APP = """
import os, time
print("importing")
time.sleep(0.05)

def handler(event, context):
    return {"pid": os.getpid(), "type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]}
"""


def init_ahead(agent: Agent) -> tuple[dict, bytes]:
    agent.init(ahead_of_demand=True, initialization_type="provisioned-concurrency")
    return protocol.receive(agent.sock)


def test_init_is_announced_and_the_first_invocation_reports_none(agent: Agent, write: Callable[..., Path]) -> None:
    write("app.py", APP)
    header, body = init_ahead(agent)
    assert (header["op"], header["status"], header["error_type"], body) == ("initialized", "ready", None, b"")
    assert header["init_duration_ms"] >= 50
    result, answer = agent.invoke({})
    assert result["status"] == "success" and result["init_duration_ms"] is None
    assert result["log"] == "importing\n"  # what init wrote goes with the first result
    assert answer["type"] == "provisioned-concurrency"
    assert agent.invoke({})[0]["init_duration_ms"] is None


@pytest.mark.parametrize(("source", "error_type"), [
    ("import does_not_exist\n", "Runtime.ImportModuleError"),
    ("import os\nprint('giving up')\nos._exit(4)\n", "Runtime.ExitError"),
])
def test_a_failed_init_is_announced_with_its_error(agent: Agent, write: Callable[..., Path], source: str,
                                                   error_type: str) -> None:
    write("app.py", source)
    header, body = init_ahead(agent)
    assert (header["op"], header["status"], header["error_type"]) == ("initialized", "init_error", error_type)
    assert json.loads(body)["errorType"] == error_type
    assert header["init_duration_ms"] > 0
    if error_type == "Runtime.ExitError":
        assert json.loads(body)["errorMessage"] == "Runtime exited with error: exit status 4"
        assert header["log"] == "giving up\n"


def test_a_runtime_that_dies_while_idle_ends_the_connection(agent: Agent, write: Callable[..., Path]) -> None:
    write("app.py", APP)
    init_ahead(agent)
    _, answer = agent.invoke({})
    os.kill(answer["pid"], signal.SIGKILL)
    agent.sock.settimeout(TIMEOUT)
    assert agent.sock.recv(1) == b""  # the agent half-closed: the platform replaces the sandbox


def test_on_demand_a_runtime_that_dies_while_idle_answers_the_next_invocation(
    agent: Agent, write: Callable[..., Path]
) -> None:
    write("app.py", APP)
    agent.init()
    _, answer = agent.invoke({})
    assert answer["type"] == "on-demand"
    os.kill(answer["pid"], signal.SIGKILL)
    result, _ = agent.invoke({})
    assert result["status"] == "crashed"


def test_announce_init_alone_announces_init_and_keeps_an_on_demand_sandbox_s_ways(
        agent: Agent, write: Callable[..., Path]) -> None:
    """A cold start held to the init limit: told when init is over, then served as any on-demand sandbox."""
    write("app.py", APP)
    agent.init(announce_init=True)
    header, _ = protocol.receive(agent.sock)
    assert (header["op"], header["status"]) == ("initialized", "ready") and header["init_duration_ms"] > 0
    result, answer = agent.invoke({})
    assert result["status"] == "success" and result["init_duration_ms"] is None
    assert answer["type"] == "on-demand"
    os.kill(answer["pid"], signal.SIGKILL)
    assert agent.invoke({})[0]["status"] == "crashed"  # not ended while idle: that is provisioned sandboxes' way


@pytest.mark.parametrize("flag", ["ahead_of_demand", "announce_init"])
def test_ahead_of_demand_and_announce_init_must_be_booleans(agent: Agent, write: Callable[..., Path],
                                                            flag: str) -> None:
    write("app.py", APP)
    agent.init(**{flag: "yes"})
    assert agent.process.wait(TIMEOUT) == 1
    assert "ahead_of_demand and announce_init must be booleans" in agent.stderr()
