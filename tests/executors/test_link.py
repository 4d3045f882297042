"""What the holder's link makes of an agent's answers, against a stand-in agent on a socket pair
and a cgroup directory written by the test (the kernel's counters, as the meter reads them)."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

from runtimes.agent import protocol
from worker.executors import FunctionCrashed, FunctionOutOfMemory, FunctionSpec, InvokeRequest
from worker.executors.link import OOM_COUNT_WAIT_S, AgentLink
from worker.executors.meter import Meter

SPEC = FunctionSpec(account_id="000000000000", function_name="f", version="$LATEST",
                    function_arn="arn:aws:lambda:us-east-1:000000000000:function:f", runtime="python3.11",
                    handler="app.handler", memory_size=128, timeout=3, ephemeral_storage=512,
                    code_sha256="x", fingerprint="x")


def _crashed(reason: str) -> bytes:
    message = f"RequestId: r Error: Runtime exited with error: {reason}"
    document = {"errorType": "Runtime.ExitError", "errorMessage": message}
    return json.dumps(document).encode()


async def _died(tmp_path: Path, *, reason: str, counted_after: float | None) -> Exception:
    """Invoke over a link whose agent answers that the runtime ended; the kernel counts an OOM kill
    ``counted_after`` seconds after that answer (never, with None)."""
    events = tmp_path / "memory.events"
    events.write_text("oom 0\noom_kill 0\n")
    (tmp_path / "memory.peak").write_text(str(130 * 1024 * 1024))
    agent_side, holder_side = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=holder_side)
    link = AgentLink(reader, writer, spec=SPEC, meter=Meter(tmp_path))

    async def agent() -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, protocol.receive, agent_side)
        protocol.send(agent_side, {"status": "crashed", "error_type": "Runtime.ExitError"}, _crashed(reason))
        if counted_after is not None:
            await asyncio.sleep(counted_after)
            with events.open("r+") as handle:  # in place: the meter keeps the file open
                handle.write("oom 1\noom_kill 1\n")

    task = asyncio.ensure_future(agent())
    try:
        with pytest.raises((FunctionOutOfMemory, FunctionCrashed)) as raised:
            await link.invoke(InvokeRequest(request_id="r", payload=b"{}", invoked_function_arn=SPEC.function_arn))
        await task
        return raised.value
    finally:
        link.close()
        agent_side.close()


def test_an_oom_kill_counted_after_the_runtime_ended_is_still_out_of_memory(tmp_path: Path) -> None:
    error = asyncio.run(_died(tmp_path, reason="signal: killed", counted_after=0.05))
    assert isinstance(error, FunctionOutOfMemory)
    assert json.loads(error.result.payload)["errorType"] == "Runtime.OutOfMemory"
    assert error.result.max_memory_used_mb == 130


def test_a_sigkill_the_kernel_never_counts_is_a_crash(tmp_path: Path) -> None:
    error = asyncio.run(_died(tmp_path, reason="signal: killed", counted_after=OOM_COUNT_WAIT_S * 4))
    assert type(error) is FunctionCrashed


def test_an_exit_status_is_a_crash_whatever_the_kernel_counts_later(tmp_path: Path) -> None:
    error = asyncio.run(_died(tmp_path, reason="exit status 1", counted_after=OOM_COUNT_WAIT_S * 2))
    assert type(error) is FunctionCrashed
