"""The executor's endpoint: a caller that hangs up has its request stopped, and a caller that waits
gets its answer over the same connection, request after request."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from worker.executors import (
    Executor,
    ExecutorUnreachable,
    FunctionSpec,
    InvokeRequest,
    InvokeResult,
    Provision,
    Provisioned,
)
from worker.executors.client import ExecutorClient
from worker.executors.server import serve

SPEC = FunctionSpec(account_id="123456789012", function_name="fn", version="1", function_arn="arn",
                    runtime="python3.11", handler="app.handler", memory_size=128, timeout=30, ephemeral_storage=512,
                    code_sha256="0" * 64, fingerprint="f")


class Recording(Executor):
    """Invocations sleep for the seconds their payload names; what became of each is recorded."""

    def __init__(self) -> None:
        self.ended: dict[str, str] = {}

    @classmethod
    def from_settings(cls) -> Recording:
        return cls()

    async def invoke(self, spec: FunctionSpec, request: InvokeRequest) -> InvokeResult:
        try:
            await asyncio.sleep(float(request.payload))
        except asyncio.CancelledError:
            self.ended[request.request_id] = "stopped"
            raise
        self.ended[request.request_id] = "ran"
        return InvokeResult(payload=request.payload, duration_ms=1.0, max_memory_used_mb=1)

    async def prewarm(self, spec: FunctionSpec, *, count: int = 1) -> int:
        return 0

    async def evict(self, spec: FunctionSpec) -> int:
        return 0

    async def provision(self, desired: Sequence[Provision], *, wait: float = 0.0) -> dict[str, Provisioned]:
        return {}

    async def close(self) -> None:
        pass


def request(request_id: str, seconds: float) -> InvokeRequest:
    return InvokeRequest(request_id=request_id, payload=str(seconds).encode(), invoked_function_arn="arn")


async def until(condition, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.01)):
        if condition():
            return True
        await asyncio.sleep(0.01)
    return False


def test_a_caller_that_hangs_up_has_its_invocation_stopped():
    async def main() -> None:
        backend = Recording()
        with tempfile.TemporaryDirectory() as folder:
            socket_path = Path(folder) / "executor.sock"
            ready = asyncio.Event()
            server = asyncio.create_task(serve(backend, socket_path, ready=ready))
            await ready.wait()
            client = ExecutorClient(socket_path=socket_path)
            try:
                abandoned = asyncio.create_task(client.invoke(SPEC, request("abandoned", 30)))
                await asyncio.sleep(0.2)
                abandoned.cancel()  # a worker giving its attempt up, or dying: its connection closes
                assert await until(lambda: backend.ended.get("abandoned") == "stopped")

                for n in range(3):  # a pooled connection serves request after request
                    result = await client.invoke(SPEC, request(f"waited-{n}", 0.01))
                    assert result.payload == b"0.01" and backend.ended[f"waited-{n}"] == "ran"
            finally:
                await client.close()
                server.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await server

    asyncio.run(main())


def test_an_unreachable_executor_is_told_apart_from_one_that_failed_to_answer():
    async def main() -> None:
        with tempfile.TemporaryDirectory() as folder:
            client = ExecutorClient(socket_path=Path(folder) / "none.sock")
            assert not await client.reachable()
            with pytest.raises(ExecutorUnreachable) as raised:
                await client.invoke(SPEC, request("nowhere", 0))
            assert folder not in str(raised.value)  # messages reach callers: no host path

    asyncio.run(main())
