"""The executor process's endpoint: serves the api and worker processes on a Unix socket and,
where they run on other hosts (a Kubernetes install), on a TCP port.

What it serves is the sandboxes' control: lend (``borrow``), take back (``give_back``),
``renew``, ``prewarm``, ``evict``, ``provision``. Invocations themselves go from the api and worker
processes straight to the lent sandboxes (``worker.executors.borrower``), never through here.
Each connection carries one request at a time (``ExecutorClient`` pools connections for
concurrency); requests of different connections run concurrently on the backend. A caller
that hangs up before its answer has its request cancelled (a cold start for a lease is let
finish, its sandbox destroyed). Every request is counted (``lambent_executor_requests_total``).

The Unix socket is out of reach of everyone but the executor's own user (mode 0600); a TCP port is
not, so a TCP connection must open with ``{"op": "attach", "key": K}`` within ``ATTACH_TIMEOUT_S``,
K being ``connection_key`` of the installation's secret key (every platform process has it: no
secret of its own to distribute), compared in constant time. It is answered ``attached``; any other
first frame, a wrong key, or a header over ``MAX_ATTACH_BYTES``, has the connection closed without
an answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
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
#: How long a TCP connection has to attach, and how large its attach frame's header may be.
ATTACH_TIMEOUT_S = 5.0
MAX_ATTACH_BYTES = 4096


def connection_key(secret_key: str) -> str:
    """What a TCP connection to the executor attaches with, derived from the installation's secret key."""
    return hmac.new(secret_key.encode(), b"lambent executor connection", hashlib.sha256).hexdigest()


async def serve(backend: Executor, socket_path: Path, *, bind: tuple[str, int] | None = None, key: str = "",
                ready: asyncio.Event | None = None) -> None:
    """Serve until cancelled, once the backend started, on ``socket_path`` and, with ``bind``, on
    that TCP host and port too (connections attaching with ``key``); the backend is closed (every
    sandbox destroyed) on the way out. A backend that waits to lead (a standby replica) listens
    only then."""
    if bind is not None and not key:
        raise ValueError("a TCP endpoint needs the key its connections attach with")
    await backend.start()
    socket_path.unlink(missing_ok=True)
    clients: set[asyncio.StreamWriter] = set()
    servers = [await asyncio.start_unix_server(lambda r, w: _serve_connection(backend, r, w, clients=clients),
                                               path=str(socket_path))]
    os.chmod(socket_path, 0o600)
    try:
        if bind is not None:
            servers.append(await asyncio.start_server(
                lambda r, w: _serve_attached(backend, r, w, clients=clients, key=key), host=bind[0], port=bind[1]))
        if ready is not None:
            ready.set()
        await asyncio.gather(*(server.serve_forever() for server in servers))
    finally:
        for server in servers:
            server.close()
        for writer in clients:  # their handlers end on the EOF instead of being cancelled mid-read
            writer.close()
        await backend.close()
        socket_path.unlink(missing_ok=True)


async def _serve_attached(backend: Executor, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                          clients: set[asyncio.StreamWriter], key: str) -> None:
    """A TCP connection: served once it attached with the key, else closed without an answer."""
    try:
        async with asyncio.timeout(ATTACH_TIMEOUT_S):
            length = int.from_bytes(await reader.readexactly(protocol.LENGTH_BYTES), "big")
            if length > MAX_ATTACH_BYTES:
                raise protocol.ProtocolError(f"an attach frame's header of {length} bytes")
            header = protocol.decode_header(await reader.readexactly(length))
            if await reader.readexactly(protocol.LENGTH_BYTES) != bytes(protocol.LENGTH_BYTES):
                raise protocol.ProtocolError("an attach frame has no body")
        given = header.get("key")
        if header.get("op") != "attach" or not isinstance(given, str) or not hmac.compare_digest(
                given.encode(), key.encode()):
            raise protocol.ProtocolError("a connection did not attach with the key")
        writer.write(protocol.encode({"op": "attached"}))
        await writer.drain()
    except asyncio.IncompleteReadError:  # hung up, as a TCP probe (a readiness check) does
        logger.debug("a TCP connection to the executor hung up before it attached")
        writer.close()
        return
    except (TimeoutError, OSError, protocol.ProtocolError) as exc:
        logger.info("a TCP connection to the executor was closed: %s", exc)
        writer.close()
        return
    await _serve_connection(backend, reader, writer, clients=clients)


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
