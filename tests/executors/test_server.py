"""The executor's endpoint: a caller that hangs up has its request stopped, a caller that waits gets
its answer over the same connection, request after request, and every request is counted."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from runtimes.agent import protocol
from tests.processes import free_port
from worker.executors import (
    Endpoint,
    Executor,
    ExecutorUnreachable,
    FunctionSpec,
    InvokeRequest,
    InvokeResult,
    Lease,
    Provision,
    Provisioned,
    SandboxLink,
)
from worker.executors.client import ExecutorClient
from worker.executors.metrics import REGISTRY
from worker.executors.server import connection_key, serve

SPEC = FunctionSpec(account_id="123456789012", function_name="fn", version="1", function_arn="arn",
                    runtime="python3.11", handler="app.handler", memory_size=128, timeout=30, ephemeral_storage=512,
                    code_sha256="0" * 64, fingerprint="f")


class Recording(Executor):
    """A borrow takes the seconds its spec's handler names; what became of each is recorded by function name."""

    def __init__(self) -> None:
        self.ended: dict[str, str] = {}

    @classmethod
    def from_settings(cls) -> Recording:
        return cls()

    async def invoke(self, spec: FunctionSpec, request: InvokeRequest) -> InvokeResult:
        raise AssertionError("the endpoint never invokes")

    async def borrow(self, spec: FunctionSpec) -> Lease:
        try:
            await asyncio.sleep(float(spec.handler))
        except asyncio.CancelledError:
            self.ended[spec.function_name] = "stopped"
            raise
        self.ended[spec.function_name] = "lent"
        return Lease(lease_id=spec.function_name, spec_key=spec.key, endpoint=Endpoint("unix:/nowhere", "t"),
                     expires_in_s=10.0)

    async def give_back(self, lease_id: str, *, reusable: bool = True) -> None:
        self.ended[lease_id] = "given back"

    async def renew(self, lease_ids: Sequence[str]) -> list[str]:
        return [lease_id for lease_id in lease_ids if lease_id not in self.ended]

    async def connect(self, lease: Lease, spec: FunctionSpec) -> SandboxLink:
        raise AssertionError("the endpoint never connects")

    async def prewarm(self, spec: FunctionSpec, *, count: int = 1) -> int:
        return 0

    async def evict(self, spec: FunctionSpec) -> int:
        return 0

    async def provision(self, desired: Sequence[Provision], *, wait: float = 0.0) -> dict[str, Provisioned]:
        return {}

    async def close(self) -> None:
        pass


def spec(name: str, seconds: float) -> FunctionSpec:
    return replace(SPEC, function_name=name, handler=str(seconds))


def requests(op: str) -> float:
    return REGISTRY.get_sample_value("lambent_executor_requests_total", {"op": op}) or 0.0


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
                abandoned = asyncio.create_task(client.borrow(spec("abandoned", 30)))
                await asyncio.sleep(0.2)
                abandoned.cancel()  # a process giving up, or dying: its connection closes
                assert await until(lambda: backend.ended.get("abandoned") == "stopped")

                borrows = requests("borrow")
                for n in range(3):  # a pooled connection serves request after request
                    lease = await client.borrow(spec(f"waited-{n}", 0.01))
                    assert lease.lease_id == f"waited-{n}" and backend.ended[f"waited-{n}"] == "lent"
                assert requests("borrow") == borrows + 3
                assert await client.renew(["waited-0", "unknown"]) == ["unknown"]
                await client.give_back("waited-0")
                assert backend.ended["waited-0"] == "given back"
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
                await client.invoke(SPEC, InvokeRequest(request_id="nowhere", payload=b"", invoked_function_arn="arn"))
            assert folder not in str(raised.value)  # messages reach callers: no host path

    asyncio.run(main())


def test_over_tcp_a_connection_is_served_once_it_attached_with_the_installation_s_key():
    async def main() -> None:
        backend = Recording()
        key = connection_key("an installation's secret key")
        with tempfile.TemporaryDirectory() as folder:
            port = free_port()
            ready = asyncio.Event()
            server = asyncio.create_task(serve(backend, Path(folder) / "executor.sock", bind=("127.0.0.1", port),
                                               key=key, ready=ready))
            await ready.wait()
            client = ExecutorClient(address=("127.0.0.1", port), key=key)
            stranger = ExecutorClient(address=("127.0.0.1", port), key=connection_key("another secret key"))
            try:
                assert await client.reachable() and not await stranger.reachable()
                with pytest.raises(ExecutorUnreachable):
                    await stranger.borrow(spec("stranger", 0.01))
                assert "stranger" not in backend.ended  # closed before it could ask for anything
                for first_frame in (protocol.encode({"op": "borrow", "spec": SPEC.to_dict()}),
                                    (10**6).to_bytes(4, "big")):  # no attach; a header too long to be one
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.write(first_frame)
                    assert await reader.read() == b""  # closed without an answer
                    writer.close()
                lease = await client.borrow(spec("attached", 0.01))
                assert lease.lease_id == "attached" and await client.renew(["attached"]) == []
            finally:
                await client.close()
                await stranger.close()
                server.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await server

    asyncio.run(main())
