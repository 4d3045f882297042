"""Code packages served to pods through short-lived links the executor signs.

A pod fetches its function's code itself when it is specialized (the agent's ``specialize`` op):
the executor hands it ``link(sha256)``, a URL under ``base_url`` that names the package and carries
an expiry and an HMAC-SHA256 of both under the installation's key, and serves the package there.
A link is good for ``LINK_SECONDS``: long enough for the fetch that follows at once, too short to
be worth stealing. Anything else (another path, a bad or expired signature, another method)
answers 404 or 403 and reads no package. The agent checks the package's sha256 before it unpacks it.

Served by a small HTTP/1.1 server on the executor's event loop (one request per connection), so
the executor needs no web framework; the package is read in a thread (``source``: what the local
backend reads packages with too).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

logger = logging.getLogger(__name__)

LINK_SECONDS = 120
_REQUEST_LIMIT = 8192


class CodeLinks:
    def __init__(self, *, source: Callable[[str], bytes], key: bytes, base_url: str, bind: str) -> None:
        self.source = source
        self._key = key
        self._base_url = base_url.rstrip("/")
        self._bind = bind
        self._server: asyncio.Server | None = None
        self.served = 0

    @property
    def port(self) -> int:
        """The port bound (the one the kernel chose, for port 0)."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        host, _, port = self._bind.rpartition(":")
        self._server = await asyncio.start_server(self._serve, host.strip("[]") or None, int(port))
        if self._base_url.endswith(":0"):  # the test bed's: the port is the one just bound
            self._base_url = f"{self._base_url[:-2]}:{self.port}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def link(self, sha256: str, *, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + LINK_SECONDS)
        return f"{self._base_url}/code/{sha256}?expires={expires}&signature={self._sign(sha256, expires)}"

    def _sign(self, sha256: str, expires: int) -> str:
        return hmac.new(self._key, f"{sha256}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def check(self, target: str) -> str | None:
        """The sha256 a request target names, if its signature holds and it has not expired."""
        parts = urlsplit(target)
        if not parts.path.startswith("/code/"):
            return None
        sha256 = parts.path.removeprefix("/code/")
        query = parse_qs(parts.query)
        try:
            expires = int(query["expires"][0])
            signature = query["signature"][0]
        except (KeyError, ValueError, IndexError):
            return None
        if expires < time.time() or not hmac.compare_digest(signature, self._sign(sha256, expires)):
            return None
        return sha256

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(30):
                head = await reader.readuntil(b"\r\n\r\n")
            if len(head) > _REQUEST_LIMIT:
                return await self._answer(writer, 431, b"")
            method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            if method != "GET":
                return await self._answer(writer, 405, b"")
            sha256 = self.check(target)
            if sha256 is None:
                return await self._answer(writer, 403, b"")
            try:
                body = await asyncio.to_thread(self.source, sha256)
            except (FileNotFoundError, LookupError):
                return await self._answer(writer, 404, b"")
            self.served += 1
            await self._answer(writer, 200, body)
        except (TimeoutError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        except Exception:
            logger.exception("a code package could not be served")
            with contextlib.suppress(ConnectionError):
                await self._answer(writer, 500, b"")
        finally:
            writer.close()

    @staticmethod
    async def _answer(writer: asyncio.StreamWriter, status: int, body: bytes) -> None:
        reason = {200: "OK", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
                  431: "Request Header Fields Too Large", 500: "Internal Server Error"}[status]
        writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\n"
                     f"Content-Type: application/zip\r\nConnection: close\r\n\r\n".encode() + body)
        await writer.drain()
