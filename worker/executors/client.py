"""The executor as the api and worker processes see it: a client of the executor process.

Invocations do not go through the executor: ``invoke`` borrows sandboxes from it and sends them
their invocations itself (``worker.executors.borrower``). The executor is asked for what only it
can do: lend, take back, renew, prewarm, evict, provision.

Requests travel as frames (``runtimes/agent/protocol.py``) over the executor's Unix
socket, or, given an ``address`` (an executor on another host), over TCP once attached with the
installation's key (``worker.executors.server``); one request at a time per connection; idle
connections are pooled per event loop. A connection that fails before an answer is read is never retried for an
invocation, because the executor may have started it: that is an ``ExecutorUnavailable``;
one that could not be opened at all started nothing: ``ExecutorUnreachable``. Messages name
no host path: they reach callers.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from prometheus_client import Counter

from lambent.env import parse_bind
from runtimes.agent import protocol
from worker.executors.base import (
    FUNCTION_ERRORS,
    Executor,
    ExecutorPlatformError,
    ExecutorUnavailable,
    ExecutorUnreachable,
    FunctionSpec,
    InvokeRequest,
    InvokeResult,
    Lease,
    Provision,
    Provisioned,
    SandboxLink,
)
from worker.executors.borrower import Borrower
from worker.executors.link import AgentLink
from worker.executors.server import ATTACH_TIMEOUT_S, connection_key

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]

#: Time allowed beyond a function's timeout for a cold start and the hops.
DEADLINE_MARGIN_S = 60.0
#: In the metrics of the api and worker processes: what each asked of the executor.
CALLS = Counter("lambent_executor_calls", "Requests this process sent to the executor process, by operation "
                "(a warm invocation sends none).", ["op"])


class ExecutorClient(Executor):
    def __init__(self, *, socket_path: Path | None = None, address: tuple[str, int] | None = None, key: str = "",
                 hold_s: float = 1.0) -> None:
        if (socket_path is None) == (address is None):
            raise ValueError("an executor is reached on a Unix socket or at a TCP address: one of the two")
        self._socket_path = socket_path
        self._address = address
        self._key = key
        self._idle: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[Connection]] = (
            weakref.WeakKeyDictionary()
        )
        self._borrower = Borrower(self, hold_s=hold_s)

    @classmethod
    def from_settings(cls) -> ExecutorClient:
        if settings.EXECUTOR_ADDRESS:
            return cls(address=parse_bind(settings.EXECUTOR_ADDRESS), key=connection_key(settings.SECRET_KEY),
                       hold_s=settings.SANDBOX_HOLD_SECONDS)
        return cls(socket_path=settings.EXECUTOR_SOCKET, hold_s=settings.SANDBOX_HOLD_SECONDS)

    @property
    def borrower(self) -> Borrower:
        return self._borrower

    async def invoke(self, spec: FunctionSpec, request: InvokeRequest) -> InvokeResult:
        return await self._borrower.invoke(spec, request)

    async def borrow(self, spec: FunctionSpec) -> Lease:
        reply, body = await self._call({"op": "borrow", "spec": spec.to_dict()},
                                       timeout=spec.timeout + DEADLINE_MARGIN_S)
        if reply.get("ok"):
            return Lease.from_dict(reply["lease"])
        error_class = FUNCTION_ERRORS.get(reply.get("error", ""))
        if error_class is not None:
            raise error_class(InvokeResult.from_dict(reply["result"], body))
        raise ExecutorPlatformError(reply.get("message", "the executor failed"))

    async def give_back(self, lease_id: str, *, reusable: bool = True) -> None:
        reply, _ = await self._call({"op": "give_back", "lease_id": lease_id, "reusable": reusable},
                                    timeout=DEADLINE_MARGIN_S)
        self._checked(reply)

    async def renew(self, lease_ids: Sequence[str]) -> list[str]:
        reply, _ = await self._call({"op": "renew", "lease_ids": list(lease_ids)}, timeout=DEADLINE_MARGIN_S)
        return [str(lease_id) for lease_id in self._checked(reply)["lost"]]

    async def connect(self, lease: Lease, spec: FunctionSpec) -> SandboxLink:
        return await AgentLink.open(lease, spec)

    async def prewarm(self, spec: FunctionSpec, *, count: int = 1) -> int:
        reply, _ = await self._call({"op": "prewarm", "spec": spec.to_dict(), "count": count},
                                    timeout=DEADLINE_MARGIN_S)
        return int(self._checked(reply)["count"])

    async def evict(self, spec: FunctionSpec) -> int:
        await self._borrower.give_back_idle(spec.key)  # idle here is idle to the executor too
        reply, _ = await self._call({"op": "evict", "spec": spec.to_dict()}, timeout=DEADLINE_MARGIN_S)
        return int(self._checked(reply)["count"])

    async def provision(self, desired: Sequence[Provision], *, wait: float = 0.0) -> dict[str, Provisioned]:
        header = {"op": "provision", "desired": [wanted.to_dict() for wanted in desired], "wait": wait}
        reply, _ = await self._call(header, timeout=wait + DEADLINE_MARGIN_S)
        return {key: Provisioned(ready=int(state["ready"]), failure=state.get("failure"))
                for key, state in self._checked(reply)["provisioned"].items()}

    async def close(self) -> None:
        await self._borrower.close()
        for connections in list(self._idle.values()):
            for _, writer in connections:
                writer.close()
        self._idle.clear()

    @staticmethod
    def _checked(reply: dict[str, Any]) -> dict[str, Any]:
        if not reply.get("ok"):
            raise ExecutorPlatformError(reply.get("message", "the executor failed"))
        return reply

    async def _call(self, header: dict[str, Any], body: bytes = b"", *, timeout: float) -> tuple[dict[str, Any], bytes]:
        CALLS.labels(header["op"]).inc()
        reader, writer = await self._connection()
        try:
            writer.write(protocol.encode(header, body))
            await writer.drain()
            async with asyncio.timeout(timeout):  # no task of its own, as wait_for makes
                reply = await protocol.receive_from(reader)
        except (OSError, protocol.ProtocolError, TimeoutError) as exc:
            writer.close()
            raise ExecutorUnavailable(f"the executor failed to answer: {exc}") from exc
        except BaseException:  # cancelled: hanging up tells the executor to stop the request
            writer.close()
            raise
        self._idle.setdefault(asyncio.get_running_loop(), []).append((reader, writer))
        return reply

    async def _connection(self) -> Connection:
        idle = self._idle.setdefault(asyncio.get_running_loop(), [])
        while idle:
            reader, writer = idle.pop()
            if not reader.at_eof() and not writer.is_closing():
                return reader, writer
            writer.close()
        try:
            return await self._open()
        except OSError as exc:
            raise ExecutorUnreachable(f"the executor is not reachable ({exc.strerror or exc})") from exc

    async def reachable(self) -> bool:
        try:
            _, writer = await self._open()
        except OSError:
            return False
        writer.close()
        return True

    async def _open(self) -> Connection:
        """A new connection, attached when over TCP; ``OSError`` when none could be made."""
        if self._address is None:
            return await asyncio.open_unix_connection(str(self._socket_path))
        reader, writer = await asyncio.open_connection(*self._address)
        try:
            writer.write(protocol.encode({"op": "attach", "key": self._key}))
            async with asyncio.timeout(ATTACH_TIMEOUT_S):
                await writer.drain()
                header, _ = await protocol.receive_from(reader)
        except (OSError, TimeoutError, protocol.ProtocolError) as exc:
            writer.close()
            raise OSError(f"the executor would not attach this connection ({exc})") from None
        if header.get("op") != "attached":
            writer.close()
            raise OSError(f"the executor answered an attach with {header.get('op')!r}")
        return reader, writer
