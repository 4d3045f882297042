"""An in-memory executor for tests of the layers above: Python handlers run in this process.

Each "sandbox" imports the handler module afresh under a name of its own, so module state
is kept between invocations of one sandbox and not shared with another, as in real
sandboxes; the handler runs in a thread, so a deadline can be enforced. The function's
variables are put into this process's environment while its code runs. There is no
isolation, no memory limit and no separate process: never use it outside tests.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import itertools
import json
import os
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from lambent.functions import archives
from worker.executors.base import (
    Endpoint,
    Executor,
    FunctionHandledError,
    FunctionInitError,
    FunctionSpec,
    FunctionTimeout,
    InvokeRequest,
    InvokeResult,
    Lease,
    LeaseLost,
    Provision,
    Provisioned,
    SandboxLink,
    error_payload,
    failure_reason,
    invalid_package,
    provision_targets,
)

_names = itertools.count()
_Outcome = tuple[bool, bytes, str]  # succeeded, response or error payload, output


@contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class _Sandbox:
    def __init__(self, spec: FunctionSpec, code: bytes) -> None:
        self.spec = spec
        self.folder = tempfile.TemporaryDirectory(prefix="lambent-fake-")
        self.handler: Callable[[Any, Any], Any] | None = None
        self.init_error: bytes | None = None
        self.pending_init_ms: float | None = None
        self.pending_log = ""
        self.provisioned = False
        try:
            archives.read(code, into=Path(self.folder.name))
        except archives.ArchiveError as exc:
            self.init_error = invalid_package(str(exc)).payload
            return
        started = time.perf_counter()
        output = io.StringIO()
        with redirect_stdout(output), redirect_stderr(output), _environment(spec.environment):
            self._load()
        self.pending_init_ms = (time.perf_counter() - started) * 1000
        self.pending_log = output.getvalue()

    def _load(self) -> None:
        module_name, _, function_name = self.spec.handler.rpartition(".")
        path = Path(self.folder.name, *module_name.split("."))
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        unique = f"lambent_fake_{next(_names)}_{module_name.replace('.', '_')}"
        try:
            module_spec = importlib.util.spec_from_file_location(unique, path)
            if module_spec is None or module_spec.loader is None:
                raise ImportError(f"No module named '{module_name}'")
            module: ModuleType = importlib.util.module_from_spec(module_spec)
            sys.path.insert(0, self.folder.name)
            try:
                module_spec.loader.exec_module(module)
            finally:
                sys.path.remove(self.folder.name)
        except Exception as exc:  # noqa: BLE001 - any import failure is the function's
            self.init_error = error_payload(error_type="Runtime.ImportModuleError",
                                            message=f"Unable to import module '{module_name}': {exc}")
            return
        self.handler = getattr(module, function_name, None)
        if self.handler is None:
            self.init_error = error_payload(error_type="Runtime.HandlerNotFound",
                                            message=f"Handler '{function_name}' missing on module '{module_name}'")

    def run(self, request: InvokeRequest) -> _Outcome:
        assert self.handler is not None
        deadline = time.time() + self.spec.timeout
        context = SimpleNamespace(
            aws_request_id=request.request_id, function_name=self.spec.function_name,
            function_version=self.spec.version, invoked_function_arn=request.invoked_function_arn,
            memory_limit_in_mb=self.spec.memory_size,
            log_group_name=f"/aws/lambda/{self.spec.function_name}", log_stream_name="fake",
            get_remaining_time_in_millis=lambda: max(0, int((deadline - time.time()) * 1000)),
        )
        output = io.StringIO()
        with redirect_stdout(output), redirect_stderr(output), _environment(self.spec.environment):
            try:
                event = json.loads(request.payload) if request.payload else {}
                body = json.dumps(self.handler(event, context)).encode()
                return True, body, output.getvalue()
            except Exception as exc:  # noqa: BLE001 - the handler's exception is the function's error
                stack = traceback.format_tb(exc.__traceback__)
                body = json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__,
                                   "stackTrace": stack}).encode()
                print(f"[ERROR] {type(exc).__name__}: {exc}", file=sys.stderr)
                return False, body, output.getvalue()


def _in_daemon_thread(
    function: Callable[[InvokeRequest], _Outcome], request: InvokeRequest
) -> asyncio.Future[_Outcome]:
    """Run in a thread the interpreter does not wait for: a timed-out handler may never return."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[_Outcome] = loop.create_future()

    def settle(outcome: _Outcome | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(outcome)  # type: ignore[arg-type]

    def target() -> None:
        outcome, error = None, None
        try:
            outcome = function(request)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            error = exc
        with suppress(RuntimeError):  # the loop is gone: nobody waits any more
            loop.call_soon_threadsafe(settle, outcome, error)

    threading.Thread(target=target, daemon=True).start()
    return future


class FakeExecutor(Executor):
    """Provisioned sandboxes are started by ``provision`` itself, whatever ``wait`` says, and a
    lost one (a timed-out invocation's) is replaced at the next call. Leases are kept in memory
    and their links run in this process (``_FakeLink``); expiry is noticed when a lease is next
    looked at."""

    def __init__(self, *, code_source: Callable[[str], bytes], lease_s: float = 10.0) -> None:
        self._code_source = code_source
        self._lease_s = lease_s
        self._loans: dict[str, _Loan] = {}
        self._idle: dict[str, list[_Sandbox]] = defaultdict(list)
        self._targets: dict[str, Provision] = {}
        self._provisioned: dict[str, list[_Sandbox]] = defaultdict(list)  # idle ones
        self._serving: dict[str, int] = defaultdict(int)  # provisioned ones busy
        self._failures: dict[str, str] = {}

    @classmethod
    def from_settings(cls) -> FakeExecutor:
        from lambent.functions.code_packages import read_code

        return cls(code_source=read_code)

    async def invoke(self, spec: FunctionSpec, request: InvokeRequest) -> InvokeResult:
        sandbox = self._take(spec.key) or await self._start(spec)
        try:
            result = await self._run(sandbox, request)
        except FunctionHandledError:
            self._put_back(sandbox)
            raise
        except FunctionTimeout:
            self._lose(sandbox)
            raise
        self._put_back(sandbox)
        return result

    async def borrow(self, spec: FunctionSpec) -> Lease:
        self._expire()
        sandbox = self._take(spec.key) or await self._start(spec)
        if sandbox.init_error is not None:
            await self._run(sandbox, InvokeRequest(request_id="init", payload=b"", invoked_function_arn=""))
        lease_id, token = uuid.uuid4().hex, uuid.uuid4().hex
        self._loans[lease_id] = _Loan(sandbox=sandbox, token=token, expires_at=time.monotonic() + self._lease_s)
        return Lease(lease_id=lease_id, spec_key=spec.key, endpoint=Endpoint(address=f"memory:{lease_id}", token=token),
                     expires_in_s=self._lease_s)

    async def give_back(self, lease_id: str, *, reusable: bool = True) -> None:
        loan = self._loans.pop(lease_id, None)
        if loan is not None:
            (self._put_back if reusable and not loan.busy else self._lose)(loan.sandbox)

    async def renew(self, lease_ids: Sequence[str]) -> list[str]:
        self._expire()
        for lease_id in lease_ids:
            if lease_id in self._loans:
                self._loans[lease_id].expires_at = time.monotonic() + self._lease_s
        return [lease_id for lease_id in lease_ids if lease_id not in self._loans]

    async def connect(self, lease: Lease, spec: FunctionSpec) -> SandboxLink:
        return _FakeLink(self, lease)

    def _expire(self) -> None:
        now = time.monotonic()
        for lease_id in [lease_id for lease_id, loan in self._loans.items() if loan.expires_at <= now]:
            loan = self._loans.pop(lease_id)
            (self._lose if loan.busy else self._put_back)(loan.sandbox)

    def _loan(self, lease: Lease) -> _Loan:
        self._expire()
        loan = self._loans.get(lease.lease_id)
        if loan is None or loan.token != lease.endpoint.token:
            raise LeaseLost("the sandbox's lease expired or was revoked")
        return loan

    def _take(self, key: str) -> _Sandbox | None:
        if self._provisioned[key]:
            self._serving[key] += 1
            return self._provisioned[key].pop()
        return self._idle[key].pop() if self._idle[key] else None

    def _lose(self, sandbox: _Sandbox) -> None:
        if sandbox.provisioned:
            self._serving[sandbox.spec.key] -= 1

    def _put_back(self, sandbox: _Sandbox) -> None:
        key = sandbox.spec.key
        self._lose(sandbox)
        if sandbox.provisioned and self._provisioned_count(key) < self._target(key):
            self._provisioned[key].append(sandbox)
            return
        sandbox.provisioned = False
        self._idle[key].append(sandbox)

    async def _run(self, sandbox: _Sandbox, request: InvokeRequest) -> InvokeResult:
        spec = sandbox.spec
        init_ms, log = sandbox.pending_init_ms, sandbox.pending_log
        sandbox.pending_init_ms, sandbox.pending_log = None, ""
        if sandbox.init_error is not None:
            raise FunctionInitError(InvokeResult(payload=sandbox.init_error, duration_ms=0, max_memory_used_mb=0,
                                                 log=log, init_duration_ms=init_ms,
                                                 error_type=json.loads(sandbox.init_error)["errorType"]))
        started = time.perf_counter()
        try:
            ok, body, output = await asyncio.wait_for(_in_daemon_thread(sandbox.run, request), spec.timeout)
        except TimeoutError:
            message = f"RequestId: {request.request_id} Error: Task timed out after {spec.timeout:.2f} seconds"
            raise FunctionTimeout(InvokeResult(
                payload=error_payload(error_type="Sandbox.Timedout", message=message),
                duration_ms=spec.timeout * 1000, max_memory_used_mb=0, log=log, init_duration_ms=init_ms,
                error_type="Sandbox.Timedout")) from None
        result = InvokeResult(payload=body, duration_ms=(time.perf_counter() - started) * 1000, max_memory_used_mb=0,
                              log=log + output, init_duration_ms=init_ms)
        if not ok:
            raise FunctionHandledError(replace(result, error_type=json.loads(body).get("errorType")))
        return result

    async def _start(self, spec: FunctionSpec) -> _Sandbox:
        code = await asyncio.to_thread(self._code_source, spec.code_sha256)
        return await asyncio.to_thread(_Sandbox, spec, code)

    async def prewarm(self, spec: FunctionSpec, *, count: int = 1) -> int:
        while len(self._idle[spec.key]) < count:
            sandbox = await self._start(spec)
            sandbox.pending_init_ms, sandbox.pending_log = None, ""  # initialized ahead: no cold start to report
            self._idle[spec.key].append(sandbox)
        return len(self._idle[spec.key])

    async def evict(self, spec: FunctionSpec) -> int:
        return len(self._idle.pop(spec.key, []))

    async def provision(self, desired: Sequence[Provision], *, wait: float = 0.0) -> dict[str, Provisioned]:
        self._targets = provision_targets(desired)
        self._failures = {key: reason for key, reason in self._failures.items() if key in self._targets}
        for key in list(self._provisioned):
            self._release_excess(key)
        for key, wanted in self._targets.items():
            await self._fill(key, wanted.spec)
        return {key: Provisioned(ready=self._provisioned_count(key), failure=self._failures.get(key))
                for key in self._targets}

    def _target(self, key: str) -> int:
        wanted = self._targets.get(key)
        return wanted.count if wanted else 0

    def _provisioned_count(self, key: str) -> int:
        return len(self._provisioned[key]) + self._serving[key]

    def _release_excess(self, key: str) -> None:
        while self._provisioned[key] and self._provisioned_count(key) > self._target(key):
            sandbox = self._provisioned[key].pop()
            sandbox.provisioned = False
            self._idle[key].append(sandbox)

    async def _fill(self, key: str, spec: FunctionSpec) -> None:
        while key not in self._failures and self._provisioned_count(key) < self._target(key):
            sandbox = await self._start(spec)
            if sandbox.init_error is not None:
                self._failures[key] = failure_reason(InvokeResult(payload=sandbox.init_error, duration_ms=0,
                                                                  max_memory_used_mb=0))
                return
            sandbox.pending_init_ms, sandbox.provisioned = None, True  # initialized ahead: no cold start
            self._provisioned[key].append(sandbox)

    async def close(self) -> None:
        self._loans.clear()
        self._idle.clear()
        self._provisioned.clear()


@dataclass
class _Loan:
    sandbox: _Sandbox
    token: str
    expires_at: float
    busy: bool = False


class _FakeLink(SandboxLink):
    def __init__(self, executor: FakeExecutor, lease: Lease) -> None:
        self._executor = executor
        self._lease = lease
        self._closed = False

    @property
    def usable(self) -> bool:
        return not self._closed

    def close(self) -> None:
        self._closed = True

    async def invoke(self, request: InvokeRequest) -> InvokeResult:
        if self._closed:
            raise LeaseLost("the link was closed")
        loan = self._executor._loan(self._lease)
        loan.busy = True
        try:
            result = await self._executor._run(loan.sandbox, request)
        except FunctionHandledError:
            loan.busy = False
            raise
        except BaseException:  # the sandbox is in doubt: gone, as a real one would be
            self._executor._loans.pop(self._lease.lease_id, None)
            self._executor._lose(loan.sandbox)
            raise
        loan.busy = False
        return result

