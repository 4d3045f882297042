"""The one interface between the invoke path and whatever runs functions.

Every backend (``local``: bubblewrap sandboxes on this host; ``kubernetes``: pods; the
in-memory ``fake`` for tests of the layers above; the ``client`` that forwards to the
executor process) implements ``Executor``, and the shared contract suite in
``tests/executors/test_contract.py`` holds each of them to the same behaviour.

A successful invocation returns an ``InvokeResult``. Everything else raises, from one of
two trees, so callers can tell whose fault it is without parsing messages:

    ExecutorError
    ├── FunctionError              the user's fault; ``.result`` holds Lambda's error
    │   │                          JSON as payload, the log and the timings
    │   ├── FunctionHandledError   the runtime caught the handler's exception and reported it
    │   │                          (the sandbox stays warm; ``Unhandled`` to callers, as Lambda)
    │   ├── FunctionCrashed        the runtime process died mid-invocation
    │   ├── FunctionTimeout        the deadline passed; the sandbox was destroyed
    │   ├── FunctionOutOfMemory    the sandbox went over its memory size
    │   └── FunctionInitError      the runtime never got ready: import failure, bad handler
    └── ExecutorPlatformError      ours: a sandbox would not start, an agent broke protocol
        └── ExecutorUnavailable    the executor failed to answer: the invocation may have run
            └── ExecutorUnreachable  the executor could not be reached at all: nothing ran

``Handled`` and ``Unhandled`` follow the Invoke API: an error the runtime caught and
formatted is ``Handled``; one it could not report (a crash, timeout, out of memory, an
init failure) is ``Unhandled``.

Sandboxes are lent, so that invocations go straight to them: a process that invokes (an api or
worker process) ``borrow``s an idle sandbox of a version (the backend makes one when none is idle:
a cold start), ``connect``s to its agent at the lease's ``Endpoint`` and sends it invocations
itself, one at a time, for as long as it holds the lease; it ``renew``s its leases before they
expire and ``give_back``s those it no longer needs. The agent serves only the current holder (the
lease's token); a lease not renewed in time expires, and the backend takes its sandbox back, or
destroys it if an invocation was in flight. ``invoke`` runs one invocation from start to end in the
backend's own process; ``worker.executors.borrower.Borrower`` runs it over a lease.

Provisioned concurrency is declared, not commanded: ``provision`` takes the complete set of
sandboxes an executor should keep initialized ahead of demand (a ``Provision`` per spec) and
answers how far each spec is (``Provisioned``); the backend keeps that set, replacing
sandboxes that die, until the next call replaces it. Whoever calls it (the control plane's
reconciler) says everything it wants each time, so a lost or repeated call does no harm.
"""

from __future__ import annotations

import abc
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import ClassVar

#: What every function error is reported as (X-Amz-Function-Error), as Lambda reports them today.
UNHANDLED = "Unhandled"


@dataclass(frozen=True)
class FunctionSpec:
    """One version of one function of one tenant, as a sandbox needs it. Immutable."""

    account_id: str
    function_name: str
    version: str
    function_arn: str
    runtime: str
    handler: str
    memory_size: int
    timeout: int
    ephemeral_storage: int
    code_sha256: str
    fingerprint: str
    environment: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Sandboxes are reused only for specs with the same key: tenant, function, version and
        the fingerprint of code and configuration (``$LATEST`` changes in place)."""
        return f"{self.account_id}/{self.function_name}/{self.version}/{self.fingerprint}"

    def to_dict(self) -> dict[str, object]:
        return {**self.__dict__, "environment": dict(self.environment)}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> FunctionSpec:
        return cls(**data)  # type: ignore[arg-type]


@dataclass(frozen=True)
class InvokeRequest:
    request_id: str
    payload: bytes
    invoked_function_arn: str
    client_context: str | None = None
    cognito_identity: str | None = None
    trace_id: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {name: value for name, value in self.__dict__.items() if name != "payload"}


@dataclass(frozen=True)
class InvokeResult:
    """What an invocation produced: the response (or error) payload, the log, the costs."""

    payload: bytes
    duration_ms: float
    max_memory_used_mb: int
    log: str = ""
    init_duration_ms: float | None = None
    function_error: str | None = None
    error_type: str | None = None

    @property
    def billed_duration_ms(self) -> int:
        """Rounded up to the millisecond, as Lambda bills."""
        return max(1, math.ceil(self.duration_ms))

    @property
    def cold_start(self) -> bool:
        return self.init_duration_ms is not None

    def to_dict(self) -> dict[str, object]:
        return {name: value for name, value in self.__dict__.items() if name != "payload"}

    @classmethod
    def from_dict(cls, data: Mapping[str, object], payload: bytes) -> InvokeResult:
        return cls(payload=payload, **data)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Endpoint:
    """Where a lease's holder reaches the sandbox's agent, and with what.

    ``address`` is ``unix:<path>`` (the local backend's agent socket) or ``tcp:<host>:<port>`` (a
    pod's); ``token`` is the lease's, which the agent checks on every invocation; ``meter``, when
    set, a directory of the sandbox's memory counters (its cgroup) on the holder's host, read for
    max memory and out-of-memory kills (None: the holder takes the agent's figures)."""

    address: str
    token: str
    meter: str | None = None


@dataclass(frozen=True)
class Lease:
    """A sandbox of ``spec_key`` lent to one process until ``expires_in_s`` from when it was
    granted or last renewed. A cold start's ``init_duration_ms`` and ``log_prefix`` (Lambda's
    ``INIT_REPORT`` line of a suppressed init) belong to the first invocation's result."""

    lease_id: str
    spec_key: str
    endpoint: Endpoint
    expires_in_s: float
    init_duration_ms: float | None = None
    log_prefix: str = ""

    def to_dict(self) -> dict[str, object]:
        return {**self.__dict__, "endpoint": dict(self.endpoint.__dict__)}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Lease:
        endpoint = data["endpoint"]
        if not isinstance(endpoint, Mapping):
            raise TypeError("a lease's endpoint is an object")
        return cls(**{**data, "endpoint": Endpoint(**endpoint)})  # type: ignore[arg-type]


@dataclass(frozen=True)
class Provision:
    """``count`` sandboxes of ``spec`` to keep initialized ahead of demand."""

    spec: FunctionSpec
    count: int

    def to_dict(self) -> dict[str, object]:
        return {"spec": self.spec.to_dict(), "count": self.count}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Provision:
        spec, count = data["spec"], data["count"]
        if not isinstance(spec, Mapping) or not isinstance(count, int) or isinstance(count, bool):
            raise TypeError("a provision is a spec (an object) and a count (an integer)")
        return cls(spec=FunctionSpec.from_dict(spec), count=count)


@dataclass(frozen=True)
class Provisioned:
    """How far the provisioned sandboxes of one spec are: ``ready`` of them are initialized now
    (idle or serving an invocation); ``failure`` says why no more will be started (the
    function's init failed), None while the backend keeps trying."""

    ready: int
    failure: str | None = None


@dataclass(frozen=True)
class SandboxCount:
    """How many sandboxes of one kind (``generic``, ``warm``, ``provisioned``) are in one state
    (``idle``, ``busy``, ``starting``) for one runtime: what the executor's metrics show."""

    kind: str
    state: str
    runtime: str
    count: int


def error_payload(*, error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


#: The error of a code package that cannot be unpacked (one stored before the limits of
#: ``lambent.functions.archives`` existed): an init error, the function's owner's to fix.
INVALID_PACKAGE = "Runtime.InvalidZipFile"


def invalid_package(reason: str) -> InvokeResult:
    """What an invocation of a function whose code will not unpack answers."""
    return InvokeResult(payload=error_payload(error_type=INVALID_PACKAGE,
                                              message=f"The code package could not be unpacked: {reason}"),
                        duration_ms=0.0, max_memory_used_mb=0, error_type=INVALID_PACKAGE)


def provision_targets(desired: Sequence[Provision]) -> dict[str, Provision]:
    """``desired`` by spec key, the counts of one key added up; negative counts are refused."""
    targets: dict[str, Provision] = {}
    for wanted in desired:
        if wanted.count < 0:
            raise ValueError(f"cannot provision {wanted.count} sandboxes of {wanted.spec.key}")
        before = targets.get(wanted.spec.key)
        targets[wanted.spec.key] = replace(wanted, count=wanted.count + (before.count if before else 0))
    return targets


def failure_reason(result: InvokeResult) -> str:
    """``errorType: errorMessage`` of a failed init, for a provisioned config's status reason."""
    try:
        document = json.loads(result.payload)
        return f"{document['errorType']}: {document['errorMessage']}"[:1000]
    except (ValueError, TypeError, KeyError, RecursionError):  # whatever a custom runtime posted
        return result.error_type or "the function's init failed"


class ExecutorError(Exception):
    pass


class FunctionError(ExecutorError):
    """The function failed; ``result`` is what the caller answers with (status 200, error set)."""

    function_error: ClassVar[str] = UNHANDLED

    def __init__(self, result: InvokeResult) -> None:
        self.result = replace(result, function_error=self.function_error)
        super().__init__(self.result.error_type or self.function_error)


class FunctionHandledError(FunctionError):
    pass


class FunctionCrashed(FunctionError):
    pass


class FunctionTimeout(FunctionError):
    pass


class FunctionOutOfMemory(FunctionError):
    pass


class FunctionInitError(FunctionError):
    pass


class ExecutorPlatformError(ExecutorError):
    pass


class ExecutorUnavailable(ExecutorPlatformError):
    pass


class ExecutorUnreachable(ExecutorUnavailable):
    pass


class LeaseLost(ExecutorUnreachable):
    """The lease is no longer this process's (expired, revoked, its sandbox gone): nothing ran."""


FUNCTION_ERRORS: dict[str, type[FunctionError]] = {
    cls.__name__: cls
    for cls in (FunctionHandledError, FunctionCrashed, FunctionTimeout, FunctionOutOfMemory, FunctionInitError)
}


class Executor(abc.ABC):
    """Runs invocations in sandboxes. One instance serves one process; methods are coroutines."""

    #: Whether its sandboxes run on the executor's own host (bubblewrap and cgroups, which need
    #: root and isolate the executor process's mounts), rather than elsewhere (pods).
    sandboxes_on_this_host: ClassVar[bool] = False

    @classmethod
    @abc.abstractmethod
    def from_settings(cls) -> Executor:
        """An instance configured from Django's settings (how the facade builds backends)."""

    async def start(self) -> None:
        """What the backend does before the executor process serves anything (the Kubernetes one:
        lead its installation, list its pods); nothing by default."""
        return None

    @abc.abstractmethod
    async def invoke(self, spec: FunctionSpec, request: InvokeRequest) -> InvokeResult:
        """Run one invocation to its end or its deadline (``spec.timeout``), in a warm sandbox of
        ``spec.key`` if one is idle, else in a new one. Raises ``FunctionError`` subclasses for the
        function's failures and ``ExecutorPlatformError`` for ours."""

    @abc.abstractmethod
    async def prewarm(self, spec: FunctionSpec, *, count: int = 1) -> int:
        """Start and initialize sandboxes until ``count`` idle ones of ``spec`` exist; how many do."""

    @abc.abstractmethod
    async def evict(self, spec: FunctionSpec) -> int:
        """Destroy the idle sandboxes of ``spec``; how many were destroyed."""

    @abc.abstractmethod
    async def provision(self, desired: Sequence[Provision], *, wait: float = 0.0) -> dict[str, Provisioned]:
        """Make ``desired`` the complete set of provisioned sandboxes, replacing the previous one.

        Each spec's sandboxes are started and fully initialized (the function's init code run)
        before any invocation, kept out of idle reaping, and replaced when they die; invocations
        of the spec use them before any warm or new sandbox. Counts of one key add up. A spec no
        longer desired, or desired fewer times, is released: its sandboxes stay warm and are
        reaped after the keep-alive like any other. Waits up to ``wait`` seconds for every spec
        to be ready or failed; answers, by ``FunctionSpec.key``, how far each desired spec is.
        """

    @abc.abstractmethod
    async def borrow(self, spec: FunctionSpec) -> Lease:
        """Lend an idle sandbox of ``spec.key`` (provisioned first), or one started now, initialized.
        Raises ``FunctionInitError`` if the function's init fails, ``ExecutorPlatformError`` for ours."""

    @abc.abstractmethod
    async def give_back(self, lease_id: str, *, reusable: bool = True) -> None:
        """End a lease: its sandbox becomes idle again, or is destroyed unless ``reusable`` (an
        invocation left it in doubt). A lease that already ended is no error."""

    @abc.abstractmethod
    async def renew(self, lease_ids: Sequence[str]) -> list[str]:
        """Extend these leases by their term; answers those that ended already (lost to their holder)."""

    @abc.abstractmethod
    async def connect(self, lease: Lease, spec: FunctionSpec) -> SandboxLink:
        """A connection to the lent sandbox's agent; ``LeaseLost`` if it cannot be reached."""

    async def reachable(self) -> bool:
        """Whether invocations can reach the backend now (a client: whether its executor answers)."""
        return True

    def census(self) -> list[SandboxCount]:
        """The sandboxes this executor holds, by kind, state and runtime (none if it holds none)."""
        return []

    @abc.abstractmethod
    async def close(self) -> None:
        """Destroy every sandbox and release what the executor holds."""


class SandboxLink(abc.ABC):
    """One holder's connection to a lent sandbox: invocations sent straight to its agent."""

    @abc.abstractmethod
    async def invoke(self, request: InvokeRequest) -> InvokeResult:
        """Run one invocation in the sandbox, as ``Executor.invoke`` would. Raises ``LeaseLost`` when
        the agent refused it (nothing ran), ``FunctionError`` subclasses (the sandbox is in doubt
        unless the error was handled), ``ExecutorPlatformError`` for ours."""

    @property
    @abc.abstractmethod
    def usable(self) -> bool:
        """Whether the connection is open (the agent closes it when the lease is revoked)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Hang up: an invocation in flight is killed with the sandbox's runtime."""
