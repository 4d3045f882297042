"""The executor process's endpoint: serves the api and worker processes on a Unix socket.

What it serves is the sandboxes' control: lend (``borrow``), take back (``give_back``),
``renew``, ``prewarm``, ``evict``, ``provision``. Invocations themselves go from the api and worker
processes straight to the lent sandboxes (``worker.executors.borrower``), never through here.
Each connection carries one request at a time (``ExecutorClient`` pools connections for
concurrency); requests of different connections run concurrently on the backend. A caller
that hangs up before its answer has its request cancelled (a cold start for a lease is let
finish, its sandbox destroyed). Every request is counted (``lambent_executor_requests_total``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from runtimes.agent import protocol
from worker.executors.base import (
    Executor,
    ExecutorPlatformError,
    FunctionError,
    FunctionSpec,
    Provision,
)
from worker.executors.metrics import REQUESTS

logger = logging.getLogger(__name__)

OPERATIONS = ("borrow", "give_back", "renew", "prewarm", "evict", "provision")


async def serve(backend: Executor, socket_path: Path, *, ready: asyncio.Event | None = None) -> None:
    """Serve until cancelled, once the backend started; the backend is closed (every sandbox
    destroyed) on the way out. A backend that waits to lead (a standby replica) listens only then."""
    await backend.start()
    socket_path.unlink(missing_ok=True)
    clients: set[asyncio.StreamWriter] = set()
    server = await asyncio.start_unix_server(lambda r, w: _serve_connection(backend, r, w, clients=clients),
                                             path=str(socket_path))
    os.chmod(socket_path, 0o600)
    try:
        async with server:
            if ready is not None:
                ready.set()
            await server.serve_forever()
    finally:
        for writer in clients:  # their handlers end on the EOF instead of being cancelled mid-read
            writer.close()
        await backend.close()
        socket_path.unlink(missing_ok=True)


async def _serve_connection(backend: Executor, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                            clients: set[asyncio.StreamWriter]) -> None:
    clients.add(writer)
    try:
        while True:
            header, body = await protocol.receive_from(reader)
            answered = await _unless_hung_up(dispatch(backend, header, body), reader)
            if answered is None:
                return
            writer.write(protocol.encode(*answered))
            await writer.drain()
    except (protocol.ProtocolError, ConnectionError):
        pass
    finally:
        clients.discard(writer)
        writer.close()


async def _unless_hung_up(request: Coroutine[Any, Any, tuple[dict[str, Any], bytes]],
                          reader: asyncio.StreamReader) -> tuple[dict[str, Any], bytes] | None:
    """The answer to ``request``, or None once the caller closed its end (the request cancelled).
    A caller sends nothing while it waits, so anything read meanwhile is its end of the stream."""
    answer = asyncio.ensure_future(request)
    hang_up = asyncio.ensure_future(reader.read(1))
    try:
        await asyncio.wait((answer, hang_up), return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not answer.done():
            answer.cancel()
            await asyncio.gather(answer, return_exceptions=True)
        hang_up.cancel()  # and awaited: the stream takes one reader at a time
        await asyncio.gather(hang_up, return_exceptions=True)
    return answer.result() if not answer.cancelled() else None


async def dispatch(backend: Executor, header: dict[str, Any], body: bytes) -> tuple[dict[str, Any], bytes]:
    try:
        op = header["op"]
        if op not in OPERATIONS:
            return {"ok": False, "message": f"unknown operation {op!r}"}, b""
        REQUESTS.labels(op).inc()
        if op == "provision":
            return await _provision(backend, header), b""
        if op == "give_back":
            await backend.give_back(str(header["lease_id"]), reusable=header.get("reusable") is not False)
            return {"ok": True}, b""
        if op == "renew":
            lease_ids = header["lease_ids"]
            if not isinstance(lease_ids, list):
                raise TypeError("lease_ids is a list")
            return {"ok": True, "lost": await backend.renew([str(lease_id) for lease_id in lease_ids])}, b""
        spec = FunctionSpec.from_dict(header["spec"])
        if op == "borrow":
            return {"ok": True, "lease": (await backend.borrow(spec)).to_dict()}, b""
        if op == "prewarm":
            return {"ok": True, "count": await backend.prewarm(spec, count=int(header["count"]))}, b""
        return {"ok": True, "count": await backend.evict(spec)}, b""
    except FunctionError as exc:
        return {"ok": False, "error": type(exc).__name__, "result": exc.result.to_dict()}, exc.result.payload
    except ExecutorPlatformError as exc:
        logger.error("executor failure: %s", exc)
        return {"ok": False, "message": str(exc)}, b""
    except (KeyError, TypeError, ValueError) as exc:
        return {"ok": False, "message": f"malformed request: {exc}"}, b""
    except Exception as exc:  # noqa: BLE001 - a fault of the backend must not end the connection unanswered
        logger.exception("executor failure in %s", header.get("op"))
        return {"ok": False, "message": f"the executor failed: {type(exc).__name__}: {exc}"}, b""


async def _provision(backend: Executor, header: dict[str, Any]) -> dict[str, Any]:
    desired = [Provision.from_dict(wanted) for wanted in header["desired"]]
    provisioned = await backend.provision(desired, wait=float(header.get("wait", 0.0)))
    return {"ok": True, "provisioned": {key: {"ready": state.ready, "failure": state.failure}
                                        for key, state in provisioned.items()}}
