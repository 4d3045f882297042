"""One sandbox as an executor drives it, whatever runs it: initialized, invoked, lent, destroyed.

A backend starts a sandbox its own way (a bubblewrap process on this host, a pod) and hands over
an ``AgentHandle``: the agent inside it listens and is connected, waiting for its function's init.
A ``WarmSandbox`` drives that agent over the connection, through the protocol of
``runtimes/agent/supervisor.py``. It serves one ``FunctionSpec`` for its whole life and one
invocation at a time; any failure that leaves its runtime in doubt (timeout, crash, out of memory,
init error, a broken connection) ends it.

Init has a limit of its own, as on Lambda: ``initialize`` sends the init frame and waits for the
agent's ``initialized`` frame (the handler imported, the function's init code run) before any
invocation is sent, so the function's timeout covers the invocation only. A cold start's init may
take ``init_timeout_s`` (Lambda's 10 s); past it ``InitTimedOut`` is raised, the sandbox destroyed,
and the executor tries once more as Lambda's "suppressed init" does: init and invocation together,
within the function's timeout (``init_limit=False``). A provisioned sandbox's init may take
``PROVISIONED_INIT_TIMEOUT_S`` or the function's timeout, whichever is longer (Lambda's rule), and
the agent ends the connection if its runtime dies while the sandbox is idle, so ``alive`` turns
false and the executor replaces it.

What the agent reports is held to the executor's own measures (see ``figures``). Invocations and
their results go through an ``AgentLink``, the executor's own one or, once the sandbox is lent
(``lend``, ``revoke``), the holder's (see ``worker.executors.base``).
"""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import Callable

from runtimes.agent import protocol
from worker.executors import figures
from worker.executors.base import (
    ExecutorPlatformError,
    FunctionInitError,
    FunctionSpec,
    InvokeRequest,
    InvokeResult,
    error_payload,
)
from worker.executors.link import AgentLink
from worker.executors.meter import Meter

#: How long an agent may take to answer a control frame (ready, lend, revoke).
START_TIMEOUT_S = 10.0
#: How long the init of a cold start may take: Lambda's init phase limit.
INIT_TIMEOUT_S = 10.0
#: How long a provisioned sandbox's init may take at least; a longer function timeout extends it (Lambda's rule).
PROVISIONED_INIT_TIMEOUT_S = 130.0


class InitTimedOut(Exception):
    """A cold start's init went past its limit; the sandbox is destroyed."""

    def __init__(self, limit_s: float) -> None:
        super().__init__(f"init did not finish within {limit_s:.2f} seconds")
        self.limit_s = limit_s


class AgentHandle(abc.ABC):
    """A started sandbox whose agent is connected (greeted with ``ready``), as a backend hands it over."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @property
    @abc.abstractmethod
    def exited(self) -> bool:
        """Whether the sandbox is known to have ended."""

    @property
    @abc.abstractmethod
    def endpoint(self) -> str:
        """Where a lease holder connects to the agent: ``unix:PATH`` or ``tcp:HOST:PORT``."""

    @property
    @abc.abstractmethod
    def meter_directory(self) -> str | None:
        """The sandbox's memory cgroup directory, where a holder on the same host can read it."""

    @abc.abstractmethod
    def meter(self) -> Meter:
        """The sandbox's memory counters, as this process reads them."""

    @abc.abstractmethod
    async def destroy(self) -> None:
        """End the sandbox and everything it holds; done once it returns."""


class WarmSandbox:
    def __init__(self, *, handle: AgentHandle, spec: FunctionSpec, init_sent_at: float) -> None:
        self.spec = spec
        self.handle = handle
        self._reader = handle.reader
        self._writer = handle.writer
        self.meter = handle.meter()
        self.link = AgentLink(handle.reader, handle.writer, spec=spec, meter=self.meter)
        self.link.init_sent_at = init_sent_at  # perf_counter(): what an init duration is held to
        self.last_used = time.monotonic()
        self.init_duration_ms: float | None = None  # known once start waited for init
        self._lent: asyncio.Task[dict[str, object] | None] | None = None  # reads the agent's frames while lent

    @property
    def alive(self) -> bool:
        """False once the sandbox exited or its agent ended the connection."""
        return not self.handle.exited and not self._reader.at_eof()

    @property
    def endpoint(self) -> str:
        return self.handle.endpoint

    @classmethod
    async def initialize(cls, handle: AgentHandle, spec: FunctionSpec, *, region: str, init_timeout_s: float,
                         prewarmed: bool = False, provisioned: bool = False, init_limit: bool = True,
                         lend: str | None = None) -> WarmSandbox:
        """``handle``'s sandbox initialized for ``spec`` (its code in place), or destroyed and
        ``FunctionInitError``, ``InitTimedOut`` or ``ExecutorPlatformError`` raised. Without
        ``init_limit`` (the suppressed init), it is returned as soon as init began: the first
        invocation waits for init within the function's timeout. With ``lend``, a token, the
        sandbox is lent from its init on (see ``lend``)."""
        frame = _init_frame(spec, region=region, ahead=provisioned, announce=init_limit)
        if lend is not None:
            frame["lend"] = lend
        init_sent_at = time.perf_counter()
        try:
            handle.writer.write(protocol.encode(frame))
            await handle.writer.drain()
        except BaseException:
            await handle.destroy()
            raise
        sandbox = cls(handle=handle, spec=spec, init_sent_at=init_sent_at)
        if provisioned or init_limit:
            try:
                await sandbox._initialized(provisioned=provisioned, limit_s=init_timeout_s)
            except BaseException:
                await sandbox.destroy()
                raise
            if not (provisioned or prewarmed):  # a cold start: its first result reports the init
                sandbox.link.pending_init_ms = sandbox.init_duration_ms
        if lend is not None:
            sandbox._watch_lent()
        return sandbox

    async def _initialized(self, *, provisioned: bool, limit_s: float) -> None:
        """Wait for the agent's ``initialized`` frame; raise if init failed or never ended."""
        timeout = max(PROVISIONED_INIT_TIMEOUT_S, float(self.spec.timeout)) if provisioned else limit_s
        try:
            async with asyncio.timeout(timeout):
                header, body = await protocol.receive_from(self._reader)
        except TimeoutError:
            if not provisioned:
                raise InitTimedOut(timeout) from None
            message = f"Init did not finish within {timeout:.2f} seconds"
            raise FunctionInitError(InvokeResult(
                payload=error_payload(error_type="Sandbox.Timedout", message=message), duration_ms=0.0,
                max_memory_used_mb=self.meter.peak_mb(), error_type="Sandbox.Timedout")) from None
        except (protocol.ProtocolError, ConnectionError) as exc:
            raise ExecutorPlatformError(f"a sandbox of {self.spec.function_name} ended in its init: {exc}") from None
        if header.get("op") != "initialized":
            raise ExecutorPlatformError(f"the agent answered init with {header.get('op')!r}")
        since_init = (time.perf_counter() - init_sent_at) * 1000 if (init_sent_at := self.link.init_sent_at) else 0.0
        self.init_duration_ms = figures.init_duration_ms(reported=header.get("init_duration_ms"),
                                                         measured_ms=since_init)
        if header.get("status") != "ready":
            raise FunctionInitError(InvokeResult(
                payload=body, duration_ms=0.0, max_memory_used_mb=self.meter.peak_mb(),
                log=str(header.get("log") or ""), init_duration_ms=self.init_duration_ms,
                error_type=header.get("error_type")))

    async def invoke(self, request: InvokeRequest) -> InvokeResult:
        """Run one invocation from the executor itself; raises ``FunctionError`` (after which this
        sandbox is dead unless the error was handled) or ``ExecutorPlatformError``."""
        try:
            return await self.link.invoke(request)
        finally:
            self.last_used = time.monotonic()

    @property
    def lent(self) -> bool:
        return self._lent is not None

    async def lend(self, token: str) -> None:
        """Have the agent serve the holder of ``token`` alone; from now on the connection is read by a
        task of its own, which ends with ``revoke``'s answer or with the connection (``on_end``)."""
        self._writer.write(protocol.encode({"op": "lend", "token": token}))
        try:
            await self._writer.drain()
            async with asyncio.timeout(START_TIMEOUT_S):
                header, _ = await protocol.receive_from(self._reader)
        except (TimeoutError, protocol.ProtocolError, ConnectionError) as exc:
            raise ExecutorPlatformError(f"the agent of {self.spec.function_name} would not be lent: {exc!r}") from None
        if header.get("op") != "lent":
            raise ExecutorPlatformError(f"the agent answered lend with {header.get('op')!r}")
        self._watch_lent()

    def _watch_lent(self) -> None:
        self._lent = asyncio.get_running_loop().create_task(self._next_frame())

    def on_lent_end(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` if the agent ends the connection while lent (its runtime ended)."""
        lent = self._lent
        if lent is not None:
            lent.add_done_callback(lambda task: None if task.cancelled() or task.result() else callback())

    async def revoke(self) -> bool:
        """End the lend; whether the sandbox can serve again (no invocation was in flight, the agent answered)."""
        lent, self._lent = self._lent, None
        if lent is None or lent.done():
            return False
        try:
            self._writer.write(protocol.encode({"op": "revoke"}))
            await self._writer.drain()
            async with asyncio.timeout(START_TIMEOUT_S):
                header = await asyncio.shield(lent)
        except (TimeoutError, ConnectionError):
            lent.cancel()
            return False
        return header is not None and header.get("op") == "revoked" and header.get("busy") is False

    async def _next_frame(self) -> dict[str, object] | None:
        try:
            header, _ = await protocol.receive_from(self._reader)
        except (protocol.ProtocolError, ConnectionError):
            return None
        return header

    async def destroy(self) -> None:
        if self._lent is not None:
            self._lent.cancel()
        await self.handle.destroy()


def _init_frame(spec: FunctionSpec, *, region: str, ahead: bool, announce: bool) -> dict[str, object]:
    return {
        "op": "init", "runtime": spec.runtime, "handler": spec.handler, "function_name": spec.function_name,
        "function_version": spec.version, "memory_size": spec.memory_size,
        "environment": dict(spec.environment), "log_group_name": f"/aws/lambda/{spec.function_name}",
        "log_stream_name": f"{time.strftime('%Y/%m/%d')}/[{spec.version}]{spec.fingerprint[:32]}",
        "region": region, "initialization_type": "provisioned-concurrency" if ahead else "on-demand",
        "ahead_of_demand": ahead, "announce_init": announce,
    }
