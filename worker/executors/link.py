"""A connection to a sandbox's agent, and what its answers mean.

``AgentLink`` sends ``invoke`` frames (``runtimes/agent/protocol.py``) and turns the agent's
``result`` frames into an ``InvokeResult`` or the ``FunctionError`` Lambda would report. It is
both the executor's own way into a sandbox (its control connection, no token) and a lease
holder's (``AgentLink.open``: the lease's endpoint, every frame carrying its token), so the two
paths cannot drift apart. The holder measures what it is billed by: its own clock around the
exchange holds the agent's figures (``figures``), the cgroup's counters give max memory and tell
an out-of-memory kill from a crash (``meter``). A holder on another host than the sandbox (a pod)
cannot read them: the agent reads its own cgroup and says (``max_memory_bytes``, ``oom_killed``).

The agent keeps the deadline (it kills the runtime and answers ``timeout``); the link waits
``DEADLINE_GRACE_S`` more before it gives up on an agent that did not answer, as a timeout too.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import replace

from runtimes.agent import protocol
from worker.executors import figures
from worker.executors.base import (
    ExecutorError,
    ExecutorPlatformError,
    ExecutorUnavailable,
    FunctionCrashed,
    FunctionError,
    FunctionHandledError,
    FunctionInitError,
    FunctionOutOfMemory,
    FunctionSpec,
    FunctionTimeout,
    InvokeRequest,
    InvokeResult,
    Lease,
    LeaseLost,
    SandboxLink,
    error_payload,
)
from worker.executors.meter import MIB, Meter

#: How long past the deadline an agent that has not answered is waited for.
DEADLINE_GRACE_S = 2.0
# The kernel sends the OOM killer's SIGKILL before it logs the kill and counts it in memory.events, so
# a runtime's end can reach this side before the count does: a SIGKILLed runtime's count is awaited
# this long, polled every OOM_COUNT_POLL_S.
OOM_COUNT_WAIT_S = 0.25
OOM_COUNT_POLL_S = 0.005


class AgentLink(SandboxLink):
    """One connection to one agent, one invocation at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, spec: FunctionSpec,
                 meter: Meter, token: str | None = None, init_duration_ms: float | None = None,
                 log_prefix: str = "") -> None:
        self.spec = spec
        self.meter = meter
        self._reader = reader
        self._writer = writer
        self._token = token
        self.pending_init_ms = init_duration_ms  # a cold start's init, announced before: for the first result
        self._log_prefix = log_prefix
        self.init_sent_at: float | None = None  # perf_counter() of the init frame, when this side sent it

    @classmethod
    async def open(cls, lease: Lease, spec: FunctionSpec) -> AgentLink:
        """The holder's connection to the agent of ``lease``; ``LeaseLost`` if it cannot be reached."""
        scheme, _, where = lease.endpoint.address.partition(":")
        try:
            if scheme == "unix":
                reader, writer = await asyncio.open_unix_connection(where)
            elif scheme == "tcp":
                host, _, port = where.rpartition(":")
                reader, writer = await asyncio.open_connection(host.strip("[]"), int(port))
            else:
                raise ExecutorPlatformError(f"a lease names an endpoint of unknown kind {scheme!r}")
        except (OSError, ValueError) as exc:
            raise LeaseLost(f"the lent sandbox cannot be reached ({exc})") from None
        return cls(reader, writer, spec=spec, meter=Meter(lease.endpoint.meter), token=lease.endpoint.token,
                   init_duration_ms=lease.init_duration_ms, log_prefix=lease.log_prefix)

    @property
    def usable(self) -> bool:
        return not self._reader.at_eof() and not self._writer.is_closing()

    def close(self) -> None:
        self._writer.close()
        self.meter.close()

    async def invoke(self, request: InvokeRequest) -> InvokeResult:
        spec = self.spec
        oom_before = self.meter.oom_kills()
        header: dict[str, object] = {
            "op": "invoke", "request_id": request.request_id,
            "deadline_ms": int(time.time() * 1000) + spec.timeout * 1000,
            "invoked_function_arn": request.invoked_function_arn, "trace_id": request.trace_id,
            "client_context": request.client_context, "cognito_identity": request.cognito_identity,
        }
        if self._token is not None:
            header["token"] = self._token
        sent_at = time.perf_counter()
        try:
            self._writer.write(protocol.encode(header, request.payload))
            await self._writer.drain()
        except ConnectionError:
            self.close()
            raise LeaseLost("the lent sandbox hung up before the invocation was sent") from None
        try:
            async with asyncio.timeout(spec.timeout + DEADLINE_GRACE_S):  # no task of its own, as wait_for makes
                reply, body = await protocol.receive_from(self._reader)
        except TimeoutError:
            self.close()
            raise FunctionTimeout(self._timed_out(request)) from None
        except (protocol.ProtocolError, ConnectionError):
            self.close()
            raise await self._agent_gone(request, oom_before) from None
        except BaseException:  # cancelled: hanging up has the agent kill the invocation
            self.close()
            raise
        status = reply.get("status")
        if status == "refused":
            self.close()
            raise LeaseLost("the sandbox's agent refused the lease: it expired or was revoked")
        result = self._result(reply, body, sent_at=sent_at)
        if status == "success":
            return result
        if status == "error":
            raise FunctionHandledError(result)
        if status == "init_error":
            raise FunctionInitError(result)
        if status == "timeout":
            raise FunctionTimeout(replace(self._timed_out(request), log=result.log))
        if status == "crashed":
            raise await self._died(request, oom_before, base=result, reply=reply)
        raise ExecutorPlatformError(f"the agent answered an unknown status {status!r}")

    def _result(self, reply: dict[str, object], body: bytes, *, sent_at: float) -> InvokeResult:
        """The agent's result, its figures held to this side's own measures (see ``figures``)."""
        measured_ms = _since(sent_at)
        since_init = _since(self.init_sent_at) if self.init_sent_at is not None else measured_ms
        init_ms = figures.init_duration_ms(reported=reply.get("init_duration_ms"), measured_ms=since_init)
        if self.pending_init_ms is not None:  # announced before this invocation was sent
            init_ms, self.pending_init_ms = self.pending_init_ms, None
        log, self._log_prefix = self._log_prefix + str(reply.get("log") or ""), ""
        return InvokeResult(
            payload=body,
            duration_ms=figures.duration_ms(reported=reply.get("duration_ms"), measured_ms=measured_ms,
                                            init_ms=init_ms),
            max_memory_used_mb=self._peak_mb(reply), log=log, init_duration_ms=init_ms,
            error_type=reply.get("error_type"),  # type: ignore[arg-type]
        )

    def _peak_mb(self, reply: dict[str, object]) -> int:
        """Max Memory Used: the cgroup's peak, or, on another host, the one the agent read from it."""
        if self.meter.measures:
            return self.meter.peak_mb()
        peak = reply.get("max_memory_bytes")
        return math.ceil(peak / MIB) if isinstance(peak, int) and peak > 0 else 0

    def _timed_out(self, request: InvokeRequest) -> InvokeResult:
        message = f"RequestId: {request.request_id} Error: Task timed out after {self.spec.timeout:.2f} seconds"
        return InvokeResult(payload=error_payload(error_type="Sandbox.Timedout", message=message),
                            duration_ms=self.spec.timeout * 1000.0, max_memory_used_mb=self.meter.peak_mb(),
                            error_type="Sandbox.Timedout")

    async def _died(self, request: InvokeRequest, oom_before: int, *, base: InvokeResult,
                    reply: dict[str, object]) -> FunctionError:
        """The runtime ended under the invocation: out of memory if the kernel says so (through the
        sandbox's cgroup, or, on another host, through the agent, which reads it), else a crash."""
        if self.meter.measures:
            out_of_memory = _KILLED in base.payload and await self._oom_killed_since(oom_before)
        else:
            out_of_memory = reply.get("oom_killed") is True
        return self._out_of_memory(request, base) if out_of_memory else FunctionCrashed(base)

    async def _agent_gone(self, request: InvokeRequest, oom_before: int) -> ExecutorError:
        """The connection ended with no answer: the agent itself is gone (the sandbox was destroyed, or
        the kernel's OOM killer took it). The invocation may have run."""
        if await self._oom_killed_since(oom_before):
            return self._out_of_memory(request, InvokeResult(payload=b"", duration_ms=0.0,
                                                             max_memory_used_mb=self.meter.peak_mb()))
        return ExecutorUnavailable("the sandbox ended before its agent answered the invocation")

    async def _oom_killed_since(self, count: int) -> bool:
        """Whether the sandbox's OOM kill count rose past ``count``, waiting out the kernel's lag."""
        deadline = time.monotonic() + (OOM_COUNT_WAIT_S if self.meter.measures else 0.0)
        while self.meter.oom_kills() <= count:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(OOM_COUNT_POLL_S)
        return True

    @staticmethod
    def _out_of_memory(request: InvokeRequest, result: InvokeResult) -> FunctionOutOfMemory:
        message = f"RequestId: {request.request_id} Error: Runtime exited with error: signal: killed"
        return FunctionOutOfMemory(_with_error(result, "Runtime.OutOfMemory", message))


_KILLED = b"signal: killed"  # how the agent's exit document names a SIGKILL


def _since(start: float) -> float:
    """Milliseconds since ``start`` (a ``time.perf_counter()``)."""
    return (time.perf_counter() - start) * 1000


def _with_error(result: InvokeResult, error_type: str, message: str) -> InvokeResult:
    return replace(result, payload=error_payload(error_type=error_type, message=message), error_type=error_type)
