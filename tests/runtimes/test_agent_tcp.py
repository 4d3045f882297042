"""The agent on TCP (``--listen``), as in a pod: only a connection with the platform's key attaches."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from runtimes.agent import protocol
from runtimes.agent.attach import MAX_WAITING
from tests.runtimes.conftest import AGENT, TIMEOUT, TcpAgent, closed_by_peer, free_port, process_gone, wait_until
from tests.runtimes.test_standby import standby_of

ENVIRONMENT = """
import os

def handler(event, context):
    return {"variables": sorted(os.environ), "proc": open("/proc/self/environ", "rb").read().hex()}
"""


def test_the_platform_attaches_with_its_key_and_is_greeted_as_on_a_unix_socket(
        start_tcp_agent: Callable[..., TcpAgent]) -> None:
    agent = start_tcp_agent()
    assert agent.ready == {"op": "ready", "pid": agent.process.pid}


@pytest.mark.parametrize("first_frame", [
    {"op": "attach", "key": "not the key"},
    {"op": "attach", "key": 42},
    {"op": "attach"},
    {"op": "init"},
    {"op": "attach", "key": "the-platform's-key", "x": "y" * 5000},  # over MAX_ATTACH_BYTES
])
def test_a_connection_without_the_key_is_closed_unanswered_and_the_platform_still_attaches(
        start_tcp_agent: Callable[..., TcpAgent], first_frame: dict) -> None:
    agent = start_tcp_agent(attach=False)
    protocol.send(agent.sock, first_frame)
    assert closed_by_peer(agent.sock)
    assert agent.process.poll() is None
    platform = agent.connect()
    assert agent.attach(platform) == {"op": "ready", "pid": agent.process.pid}
    platform.close()
    assert agent.process.wait(TIMEOUT) == 0


def test_the_right_key_with_a_body_is_not_an_attach(start_tcp_agent: Callable[..., TcpAgent]) -> None:
    agent = start_tcp_agent(attach=False)
    protocol.send(agent.sock, {"op": "attach", "key": agent.key}, b"more")
    assert closed_by_peer(agent.sock)


def test_strangers_who_say_nothing_cannot_keep_the_platform_out(start_tcp_agent: Callable[..., TcpAgent]) -> None:
    agent = start_tcp_agent(attach=False)
    strangers = [agent.sock] + [agent.connect() for _ in range(MAX_WAITING + 2)]
    platform = agent.connect()
    assert agent.attach(platform)["op"] == "ready"
    assert all(closed_by_peer(stranger) for stranger in strangers)  # the oldest dropped, the rest at attach
    for stranger in strangers:
        stranger.close()
    agent.sock = platform


def test_a_connection_after_the_attach_is_a_holder_s(start_tcp_agent: Callable[..., TcpAgent],
                                                     write: Callable[..., Path]) -> None:
    write("app.py", "def handler(event, context):\n    return 1\n")
    agent = start_tcp_agent()
    agent.init()
    with agent.connect() as holder:
        protocol.send(holder, {"op": "attach", "key": agent.key})  # no second platform: a holder may only invoke
        assert closed_by_peer(holder)
    with agent.connect() as holder:
        protocol.send(holder, {"op": "invoke", "request_id": "r", "token": "guess"}, b"{}")
        assert protocol.receive(holder)[0] == {"op": "result", "status": "refused", "request_id": "r"}
    assert agent.invoke({})[1] == 1


def test_the_agent_ends_with_the_platform_s_connection(start_tcp_agent: Callable[..., TcpAgent],
                                                       write: Callable[..., Path]) -> None:
    write("app.py", "def handler(event, context):\n    return 1\n")
    agent = start_tcp_agent()
    agent.init()
    assert agent.invoke({})[1] == 1
    assert agent.close() == 0


@pytest.mark.parametrize("started", ["forked ahead of demand", "exec'd afresh"])
def test_no_runtime_inherits_the_key_s_digest(start_tcp_agent: Callable[..., TcpAgent], write: Callable[..., Path],
                                             started: str) -> None:
    write("app.py", ENVIRONMENT)
    agent = start_tcp_agent(environment={"PATH": "/usr/bin"})
    if started == "exec'd afresh":
        standby = standby_of(agent)
        os.kill(standby, signal.SIGKILL)
        wait_until(lambda: process_gone(standby))
    agent.init()
    result, body = agent.invoke({})
    assert result["status"] == "success", body
    digest = bytes.fromhex(body["proc"])
    assert "LAMBENT_AGENT_KEY_SHA256" not in body["variables"] and "AWS_LAMBDA_RUNTIME_API" in body["variables"]
    assert b"LAMBENT_AGENT_KEY_SHA256" not in digest
    assert agent.key_digest.encode() not in digest
    assert (b"PATH=/usr/bin" in digest) == (started == "forked ahead of demand")  # the agent's exec-time block


@pytest.mark.parametrize(("environment", "message"), [
    ({}, "LAMBENT_AGENT_KEY_SHA256 must be set with --listen"),
    ({"LAMBENT_AGENT_KEY_SHA256": "ab" * 31}, "must be a SHA-256 digest: 64 hex digits"),
    ({"LAMBENT_AGENT_KEY_SHA256": "zz" * 32}, "must be a SHA-256 digest: 64 hex digits"),
])
def test_listening_on_tcp_needs_the_key_s_digest(environment: dict[str, str], message: str) -> None:
    result = run_agent(["--listen", f"tcp:127.0.0.1:{free_port()}"], environment=environment)
    assert result.returncode == 2 and message in result.stderr


@pytest.mark.parametrize(("arguments", "message"), [
    (["--listen", "127.0.0.1:80"], "tcp:HOST:PORT expected"),
    (["--listen", "tcp:127.0.0.1:http"], "tcp:HOST:PORT expected"),
    (["--listen", "tcp:127.0.0.1:0", "--socket-fd", "3"], "--socket-fd and --listen exclude each other"),
])
def test_the_listener_is_one_tcp_address_or_one_descriptor(arguments: list[str], message: str) -> None:
    result = run_agent(arguments, environment={"LAMBENT_AGENT_KEY_SHA256": "ab" * 32})
    assert result.returncode == 2 and message in result.stderr


def run_agent(arguments: list[str], *, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-I", "-S", str(AGENT), *arguments, "--runtime-api", "127.0.0.1:0"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT, env=environment)



ORPHANS = """
import os
import time

def handler(event, context):
    if event == "leave one":
        if os.fork() == 0:  # a child that starts a grandchild and ends first: the grandchild is orphaned
            if os.fork() == 0:
                os._exit(0)
            time.sleep(0.1)
            os._exit(0)
        os.wait()
        return None
    zombies = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with open(f"/proc/{entry}/stat") as stat:
            if stat.read().rpartition(")")[2].split()[0] == "Z":
                zombies.append(int(entry))
    return zombies
"""


def test_as_a_container_s_pid_1_the_agent_collects_the_orphans_a_function_leaves(
        start_tcp_agent: Callable[..., TcpAgent], write: Callable[..., Path]) -> None:
    write("app.py", ORPHANS)
    agent = start_tcp_agent(wrapper=["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"])
    assert agent.ready["pid"] == 1
    agent.init()
    for _ in range(3):
        assert agent.invoke("leave one")[0]["status"] == "success"
    deadline = time.monotonic() + TIMEOUT
    while (zombies := agent.invoke("count")[1]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert zombies == []
