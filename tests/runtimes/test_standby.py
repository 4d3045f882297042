"""The Python runtime forked ahead of demand: it waits, running nothing of the function, until init starts it."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from tests.runtimes.conftest import ROOT, Agent, process_gone, wait_until

PIDS = """
import os

def handler(event, context):
    return [os.getpid(), os.getpgrp()]
"""


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def standby_of(agent: Agent) -> int:
    """The agent's one child before init: its standby runtime."""
    wait_until(lambda: len(children(agent.process.pid)) == 1)
    (standby,) = children(agent.process.pid)
    return standby


def test_the_standby_is_the_runtime_init_starts(agent: Agent, write: Callable[..., Path]) -> None:
    write("app.py", PIDS)
    standby = standby_of(agent)
    agent.init()
    result, (pid, group) = agent.invoke({})
    assert result["status"] == "success"
    assert pid == group == standby  # in a process group of its own, as a runtime forked at init
    assert result["init_duration_ms"] is not None


def test_the_standby_runs_nothing_of_the_function_before_init(agent: Agent, write: Callable[..., Path]) -> None:
    marker = agent.task_root / "imported"
    write("app.py", f"open({str(marker)!r}, 'w').close()\n\ndef handler(event, context):\n    return 1\n")
    standby_of(agent)
    time.sleep(0.2)
    assert not marker.exists()
    agent.init()
    assert agent.invoke({})[1] == 1
    assert marker.exists()


def test_a_standby_that_died_is_replaced_at_init_by_a_runtime_exec_d_afresh(agent: Agent,
                                                                          write: Callable[..., Path]) -> None:
    """Not forked: by init the agent has read the platform's frames, which a fork would hand the function."""
    write("app.py", PIDS + "\n\ndef command(event, context):\n    return open('/proc/self/cmdline').read()\n")
    standby = standby_of(agent)
    os.kill(standby, signal.SIGKILL)
    wait_until(lambda: process_gone(standby))
    agent.init(handler="app.command")
    result, command = agent.invoke({})
    assert result["status"] == "success"
    assert command.split("\0")[1:-1] == ["-I", "-S", "-u", str(ROOT / "runtimes" / "python" / "bootstrap.py")]


def test_a_runtime_that_is_not_python_ends_the_standby(agent: Agent, write: Callable[..., Path]) -> None:
    write("bootstrap", "#!/bin/sh\nexit 3\n", executable=True)
    standby = standby_of(agent)
    agent.init(runtime="provided")
    assert agent.invoke({})[0]["status"] == "init_error"
    assert process_gone(standby)


def test_the_standby_ends_with_the_agent(agent: Agent) -> None:
    standby = standby_of(agent)
    assert agent.close() == 0
    wait_until(lambda: process_gone(standby))
