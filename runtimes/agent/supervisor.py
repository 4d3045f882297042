"""The sandbox's state: the runtime's life, the invocation in flight, the result owed for it.

The agent greets the platform with a ``ready`` frame once it listens and its standby is forked:
``pid`` is its own in the sandbox, which the executor checks is the pid its seccomp guard protects.
(Over TCP, ``--listen``, the platform first proves itself: ``{"op": "attach", "key": K}``, see
``attach``; ``ready`` answers it.)

A sandbox whose code is not put in its task root from outside (a pod's) fetches it itself: before
init, the platform may send once ``{"op": "specialize", "code": {"url": U, "sha256": H, "max_bytes":
N}}``, answered ``{"op": "specialized"}`` once the zip at ``U`` (plain HTTP, a URL the platform
signed) is checked and unpacked in the task root, or ``{"op": "specialized", "error": E}`` with the
task root left empty (see ``code_package``). A second specialize, or one after init, is answered
with an error and changes nothing. The agent reads no other frame meanwhile.

The platform sends ``init`` once, then ``invoke`` frames, one at a time; each gets exactly one
``result`` frame:

    success      the runtime posted a response
    error        it posted an error, or a response too large to return
    init_error   init failed: the runtime posted /init/error, exited before asking for its first
                 invocation, or could not be started; every later invocation gets the same
    crashed      the runtime exited after init; every later invocation is answered so at once
    timeout      the invocation's deadline passed: the runtime was killed
    refused      (to a holder) the token is not the current lease's: nothing ran

Init ends at the runtime's first ``GET /next``; its duration, from the moment the runtime is told to
start (a Python runtime is forked ahead of demand and waits for that: see ``launcher``), goes with
the first result. A result's ``log`` holds what the runtime wrote since the previous one.

Ahead of demand (provisioned concurrency: ``"ahead_of_demand": true`` in the init frame), the
platform waits for init before it sends any invocation, and watches the sandbox while it is idle.
With ``"announce_init": true`` alone (a cold start held to Lambda's init limit), only the first:

    initialized  sent once init is over: ``status`` ``ready``, or ``init_error`` with the error
                 document as body and the log; its ``init_duration_ms`` is then reported by no
                 result. What init wrote to a log that succeeded goes with the first result.
    (end)        a runtime that exits while no invocation is in flight ends the connection (the
                 agent half-closes it once its writes are sent), so the platform replaces the
                 sandbox instead of answering its next invocation with ``crashed``.

Lending. The executor lends the sandbox to one holder at a time (an api or worker process) with
``{"op": "lend", "token": T}``, answered ``lent``; the holder then connects to the same socket and
sends its ``invoke`` frames, each carrying ``"token": T``, and reads their results on its own
connection (a cold start for a lease is lent by its init frame's ``"lend": T``, unanswered). An invoke
whose token is not the current one (a holder whose lease expired, was revoked
or never was) is answered ``{"op": "result", "status": "refused"}`` and never reaches the runtime.
``{"op": "revoke"}`` ends the lend: the holders are sent ``refused`` and their connections closed,
and the answer ``revoked`` says whether an invocation was in flight (``busy``: it was killed, the
sandbox is in doubt).

The agent keeps each invocation's deadline itself: once ``deadline_ms`` passes, the runtime and its
process group are killed and the invocation answered ``timeout``. A holder that hangs up with an
invocation in flight has it killed the same way (whoever runs that attempt again never runs beside
it). Whenever the runtime of a lent sandbox ends, the agent ends its connection with the executor,
so the executor replaces the sandbox: once the holder's answer is sent, or, when the runtime ended
under a holder's invocation, once that holder hangs up (or the lend is revoked). That holder reads the sandbox's memory
counters for its answer (an out-of-memory kill, max memory), and they are gone with the sandbox.
"""

import posix
import time

from . import fastjson, launcher, protocol
from .cgroup import OwnCgroup
from .environment import runtime_environment
from .frames import FrameReader
from .invocation import RESPONSE_TOO_LARGE, Invocation, LogBuffer, error_document, posted_error_type
from .loop import POLLIN, READ_BYTES, Loop, Stream
from .protocol import ProtocolError
from .runtime_api import ACCEPTED, UNKNOWN_REQUEST, WRONG_STATE, Connection, RuntimeApi

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    import signal as _signal  # the stub of _signal, which has none of its own
    from collections.abc import Callable
else:
    import _signal

# Go's names, as Lambda (written in Go) reports signals: "signal: killed".
_SIGNAL_NAMES: dict[int, str] = {
    _signal.SIGHUP: "hangup",
    _signal.SIGINT: "interrupt",
    _signal.SIGQUIT: "quit",
    _signal.SIGILL: "illegal instruction",
    _signal.SIGABRT: "aborted",
    _signal.SIGBUS: "bus error",
    _signal.SIGFPE: "floating point exception",
    _signal.SIGKILL: "killed",
    _signal.SIGSEGV: "segmentation fault",
    _signal.SIGPIPE: "broken pipe",
    _signal.SIGTERM: "terminated",
}
_LOG_FIELD = ',"log":'
#: Holders' connections open at once (a holder uses one; the rest are late or stale).
MAX_HOLDER_CONNECTIONS = 8


class Supervisor:
    """Drives one sandbox: frames from the platform in, results out; the Runtime API's calls; the runtime."""

    def __init__(self, *, loop: Loop, listener: "_socket.socket", runtime_api: str, task_root: str,
                 cgroup: "OwnCgroup | None" = None) -> None:
        self._loop = loop
        self._runtime_api = runtime_api
        self._task_root = task_root
        self._cgroup = cgroup  # read for the platform, when it is on another host (see ``cgroup``)
        self._oom_kills = 0  # the cgroup's count as the invocation in flight began
        self._api = RuntimeApi(loop=loop, listener=listener, supervisor=self)
        self._platform: Stream | None = None
        self._frames = FrameReader()
        self._log = LogBuffer()
        self._initialized = False
        self._specialized = False  # a specialize frame came (whatever its outcome)
        self._standby: launcher.Standby | None = None  # a Python runtime forked ahead of demand
        self._runtime: launcher.Runtime | None = None
        self._log_fd: int | None = None  # the read end of the runtime's stdout and stderr, until every writer is gone
        self._started_at = 0.0
        self._ready = False  # the runtime asked for its first invocation: init is over
        self._init_ms: float | None = None
        self._init_reported = False
        self._ahead = False  # initialized ahead of demand: announce init, end with an idle runtime
        self._announce = False  # send ``initialized`` once init is over
        self._failure: tuple[str, bytes | None] | None = None  # init failed: the type, the body (None: exit)
        self._exit: tuple[int | None, int | None] | None = None  # the runtime's exit code or signal
        self._pending: Invocation | None = None  # received, not answered yet
        self._origin: Stream | None = None  # the holder's connection it came on (None: the executor's)
        self._token: str | None = None  # the current holder's lease token, while it may invoke
        self._lent = False  # from lend to revoke: the executor is told when the runtime ends
        self._holders: dict[Stream, FrameReader] = {}
        self._ends_with: Stream | None = None  # the holder whose hanging up ends the platform's connection
        self._answered: str | None = None  # the request id of the last invocation answered
        self._parked: list[Connection] = []

    def stand_by(self) -> None:
        """Fork the Python runtime ahead of demand (see ``launcher``), once every descriptor of the
        agent is in the loop, before it reads anything from the platform; if the fork fails now,
        init execs a runtime instead."""
        try:
            self._standby = launcher.fork_standby(close_agent_files=self._loop.close_all)
        except launcher.LaunchError:
            self._standby = None

    # The platform's side.

    @property
    def platform_attached(self) -> bool:
        return self._platform is not None

    def attach(self, platform: Stream) -> None:
        self._platform = platform
        platform.write(protocol.encode({"op": "ready", "pid": posix.getpid()}))

    def on_platform_data(self, data: bytes) -> None:
        self._frames.feed(data)
        while (frame := self._frames.next_frame()) is not None:
            header, body = frame
            op = header.get("op")
            if op == "invoke":
                self._invoke(header, body, origin=None)
            elif op == "init":
                self._init(header)
            elif op == "specialize":
                self._specialize(header)
            elif op == "lend":
                self._lend(header)
            elif op == "revoke":
                self._revoke()
            else:
                raise ProtocolError(f"unknown op {op!r}")

    # Holders' side.

    def attach_holder(self, stream_for: "Callable[[Callable[[bytes], None], Callable[[], None]], Stream]") -> None:
        """A connection after the executor's: a holder's, or a stranger's whose invokes are refused."""
        if len(self._holders) >= MAX_HOLDER_CONNECTIONS:
            return stream_for(lambda data: None, lambda: None).close()
        frames = FrameReader()
        holder: Stream

        def on_data(data: bytes) -> None:
            self._on_holder_data(holder, frames, data)

        holder = stream_for(on_data, lambda: self._holder_closed(holder))
        self._holders[holder] = frames

    def _lend(self, header: dict, *, answer: bool = True) -> None:
        token = header.get("token")
        if not isinstance(token, str) or not token:
            raise ProtocolError("lend: token must be a non-empty string")
        self._token, self._lent = token, True
        if answer:
            assert self._platform is not None
            self._platform.write(protocol.encode({"op": "lent"}))

    def _revoke(self) -> None:
        busy = self._pending is not None and self._origin is not None
        self._token, self._lent = None, False
        for holder in list(self._holders):
            self._holders.pop(holder, None)
            if holder is self._origin:
                holder.close()
            else:  # told, so that its next invocation is not taken for one the sandbox died under
                holder.write(protocol.encode({"op": "result", "status": "refused", "request_id": None}))
                holder.close_when_written()
        if busy:
            self._abandon()
        assert self._platform is not None
        self._platform.write(protocol.encode({"op": "revoked", "busy": busy}))
        if self._ends_with is not None:  # its runtime ended: it cannot be lent again
            self._ends_with = None
            self._platform.close_when_written()

    def _on_holder_data(self, holder: Stream, frames: FrameReader, data: bytes) -> None:
        frames.feed(data)
        try:
            while not holder.closed and (frame := frames.next_frame()) is not None:
                header, body = frame
                if header.get("op") != "invoke":
                    raise ProtocolError(f"a holder may only invoke, not {header.get('op')!r}")
                if self._token is None or header.get("token") != self._token:
                    holder.write(protocol.encode({"op": "result", "status": "refused",
                                                  "request_id": header.get("request_id")}))
                    continue
                self._invoke(header, body, origin=holder)
        except ProtocolError:
            holder.close()
            self._holder_closed(holder)

    def _holder_closed(self, holder: Stream) -> None:
        self._holders.pop(holder, None)
        if holder is self._ends_with and self._platform is not None:
            self._ends_with = None
            self._platform.close_when_written()
        if self._pending is not None and self._origin is holder:
            self._abandon()

    def _abandon(self) -> None:
        """The invocation in flight has no one to answer: kill it with the runtime (the sandbox is in doubt)."""
        self._pending, self._origin = None, None
        self._token = None  # in doubt: no holder may invoke again
        self._loop.clear_timer()
        self._kill_runtime()

    def _specialize(self, header: dict) -> None:
        """Fetch and unpack the function's code into the task root, before init; synchronously: the
        platform waits for the answer, and until init nothing else is asked of the sandbox."""
        if self._initialized:
            error: str | None = "specialize: the sandbox is already initialized"
        elif self._specialized:
            error = "specialize: the sandbox is already specialized"
        else:
            self._specialized = True
            from . import code_package  # only sandboxes that fetch their code pay for it

            error = code_package.specialize(header.get("code"), task_root=self._task_root)
        assert self._platform is not None
        answer = {"op": "specialized"} if error is None else {"op": "specialized", "error": error}
        self._platform.write(protocol.encode(answer))

    def _init(self, header: dict) -> None:
        if self._initialized:
            raise ProtocolError("init: the sandbox is already initialized")
        environment = runtime_environment(header, runtime_api=self._runtime_api, task_root=self._task_root)
        ahead, announce = header.get("ahead_of_demand", False), header.get("announce_init", False)
        if not isinstance(ahead, bool) or not isinstance(announce, bool):
            raise ProtocolError("init: ahead_of_demand and announce_init must be booleans")
        self._initialized, self._ahead, self._announce = True, ahead, ahead or announce
        if "lend" in header:  # a cold start for a lease: lent from the start, no round trip of its own
            self._lend({"token": header["lend"]}, answer=False)
        self._started_at = time.perf_counter()
        standby, self._standby = self._standby, None
        try:
            self._runtime = launcher.start(
                runtime=header["runtime"],
                environment=environment,
                task_root=self._task_root,
                standby=standby,
            )
        except launcher.LaunchError as error:
            return self._fail_init(error.error_type, error_document(error.error_type, str(error)))
        self._log_fd = self._runtime.log_fd
        self._loop.watch(self._log_fd, POLLIN, lambda events: self._read_log(), close=self._close_log)

    def _invoke(self, header: dict, body: bytes, *, origin: "Stream | None") -> None:
        if not self._initialized:
            raise ProtocolError("invoke before init")
        if self._pending is not None:
            raise ProtocolError(f"invoke while {self._pending.request_id} is in flight")
        self._pending, self._origin = Invocation.from_frame(header, body), origin
        if self._cgroup is not None:
            self._oom_kills = self._cgroup.oom_kills()
        deadline = time.monotonic() + (self._pending.deadline_ms / 1000 - time.time())
        self._loop.set_timer(deadline, self._deadline_passed)
        if self._failure is not None or self._exit is not None:
            self._answer_failed()
        elif self._ready:
            self._deliver()

    # The runtime's side (the Runtime API calls these).

    def on_next(self, connection: Connection) -> None:
        if not self._ready and self._runtime is not None and self._failure is None:
            self._ready = True
            self._init_ms = self._since(self._started_at)
            if self._announce:
                self._announce_init()
        self._parked.append(connection)
        if self._ready and self._failure is None:
            self._deliver()

    def on_response(self, request_id: str, body: bytes) -> str:
        outcome = self._check(request_id)
        if outcome == ACCEPTED:
            self._answer("success", body)
        return outcome

    def on_error(self, request_id: str, error_type: "str | None", body: bytes) -> str:
        outcome = self._check(request_id)
        if outcome == ACCEPTED:
            self._answer("error", body, error_type=posted_error_type(header=error_type, body=body, default="Unhandled"))
        return outcome

    def on_too_large(self, request_id: str) -> None:
        if self._check(request_id) == ACCEPTED:
            error_type = "Function.ResponseSizeTooLarge"
            self._answer("error", error_document(error_type, RESPONSE_TOO_LARGE), error_type=error_type)

    def on_init_error(self, error_type: "str | None", body: bytes) -> str:
        if self._runtime is None or self._ready or self._failure is not None or self._exit is not None:
            return WRONG_STATE
        self._fail_init(posted_error_type(header=error_type, body=body, default="Unhandled"), body)
        return ACCEPTED

    def on_disconnect(self, connection: Connection) -> None:
        if connection in self._parked:
            self._parked.remove(connection)

    # The runtime's life.

    def reap(self) -> None:
        """Note the runtime's exit (on SIGCHLD), which fails what is in flight.

        The runtime is left a zombie until ``close()``: while it is, its pid, which is also its
        process group's id, cannot be reused, so killing the group then never hits a stranger.
        """
        if posix.getpid() == 1:
            self._reap_orphans()
        runtime = self._runtime
        if runtime is None or self._exit is not None:
            return
        try:
            exited = posix.waitid(posix.P_PID, runtime.pid, posix.WEXITED | posix.WNOHANG | posix.WNOWAIT)
        except ChildProcessError:
            return
        if exited is not None:
            if exited.si_code == posix.CLD_EXITED:
                self._runtime_exited(exited.si_status, None)
            else:  # killed, or dumped core
                self._runtime_exited(None, exited.si_status)

    def _reap_orphans(self) -> None:
        """As its container's pid 1 (in a pod), the agent becomes the parent of every process whose
        parent ended first: what a function started and left behind. Those that ended are collected,
        or each would stay a zombie for the pod's life, holding a pid of the pod's limit. The runtime
        and the standby are left to their own collection."""
        kept = {child.pid for child in (self._runtime, self._standby) if child is not None}
        try:
            fd = posix.open(f"/proc/self/task/{posix.getpid()}/children", posix.O_RDONLY | posix.O_CLOEXEC)
        except OSError:
            return
        try:
            listing = b""
            while chunk := posix.read(fd, READ_BYTES):
                listing += chunk
        finally:
            posix.close(fd)
        for pid in map(int, listing.split()):
            if pid not in kept:
                try:
                    posix.waitpid(pid, posix.WNOHANG)
                except ChildProcessError:
                    pass

    def close(self) -> None:
        """Kill the runtime with everything it started (its process group), and collect it."""
        if self._standby is not None:
            launcher.discard(self._standby)
            self._standby = None
        if self._runtime is None:
            return
        self._kill_runtime()
        try:
            posix.waitpid(self._runtime.pid, 0)
        except ChildProcessError:
            pass

    def _kill_runtime(self) -> None:
        """SIGKILL the runtime's process group; its exit is noted on SIGCHLD (see ``reap``)."""
        if self._runtime is not None:
            try:
                posix.killpg(self._runtime.pid, _signal.SIGKILL)
            except OSError:  # nothing left of the group
                pass

    def _deadline_passed(self) -> None:
        """The invocation in flight ran out of time: answer ``timeout``, then kill the runtime."""
        if self._pending is None:
            return
        self._answer("timeout", b"", error_type="Sandbox.Timedout")
        self._token = None  # in doubt: no holder may invoke again
        self._kill_runtime()

    def _runtime_exited(self, code: "int | None", signal: "int | None") -> None:
        self._exit = (code, signal)
        self._api.drain()  # it may have answered just before it exited
        answered = self._origin if self._pending is not None else None
        if not self._ready and self._failure is None:
            self._fail_init("Runtime.ExitError", None)
        elif self._pending is not None:
            self._answer_failed()
        elif self._ahead and self._platform is not None:
            self._platform.close_when_written()
        if self._lent and self._platform is not None:
            self._token, self._lent = None, False  # whatever comes next is refused
            platform = self._platform
            holder = next(iter(self._holders), None)
            if answered is not None and not answered.closed:  # it reads the counters first
                self._ends_with = answered
            elif holder is not None:  # the holder's answer first: the executor destroys the sandbox on this
                holder.when_written(platform.close_when_written)
            else:
                platform.close_when_written()

    def _fail_init(self, error_type: str, body: "bytes | None") -> None:
        self._failure = (error_type, body)
        self._init_ms = self._since(self._started_at)
        if self._announce:
            self._announce_init()
        if self._pending is not None:
            self._answer_failed()

    def _announce_init(self) -> None:
        """Tell the platform that init is over, and how it went."""
        assert self._platform is not None
        self._init_reported = True
        header: dict = {"op": "initialized", "status": "ready", "error_type": None, "init_duration_ms": self._init_ms}
        body = b""
        if self._failure is not None:
            error_type, document = self._failure
            header.update(status="init_error", error_type=error_type)
            body = document if document is not None else error_document(error_type, self._exit_reason())
            self._read_log(all_of_it=True)
            header["log"] = self._log.take(max_json_bytes=protocol.MAX_HEADER_BYTES - 1024)
        self._platform.write(protocol.encode(header, body))

    def _read_log(self, *, all_of_it: bool = False) -> None:
        turns = 0
        while self._log_fd is not None and (all_of_it or turns < 16):
            turns += 1
            try:
                data = posix.read(self._log_fd, READ_BYTES)
            except BlockingIOError:
                return
            if not data:  # every writer is gone
                return self._close_log()
            self._log.append(data)

    def _close_log(self) -> None:
        if self._log_fd is not None:
            self._loop.forget(self._log_fd)
            posix.close(self._log_fd)
            self._log_fd = None

    # Invocations and their results.

    def _deliver(self) -> None:
        pending = self._pending
        if pending is None or pending.delivered_at is not None or self._exit is not None:
            return
        while self._parked:
            connection = self._parked.pop(0)
            if not connection.stream.closed:
                pending.delivered_at = time.perf_counter()
                return connection.deliver(pending.next_response())

    def _check(self, request_id: str) -> str:
        pending = self._pending
        if pending is not None and request_id == pending.request_id:
            return ACCEPTED if pending.delivered_at is not None else WRONG_STATE
        return WRONG_STATE if request_id == self._answered else UNKNOWN_REQUEST

    def _answer_failed(self) -> None:
        assert self._pending is not None
        if self._failure is None:
            return self._answer("crashed", self._exit_document(), error_type="Runtime.ExitError", exited=True)
        error_type, body = self._failure
        if body is None:
            return self._answer("init_error", self._exit_document(), error_type=error_type, exited=True)
        self._answer("init_error", body, error_type=error_type)

    def _exit_document(self) -> bytes:
        assert self._pending is not None
        message = f"RequestId: {self._pending.request_id} Error: {self._exit_reason()}"
        return error_document("Runtime.ExitError", message)

    def _exit_reason(self) -> str:
        code, signal = self._exit if self._exit is not None else (None, None)
        if signal is not None:
            return f"Runtime exited with error: signal: {_SIGNAL_NAMES.get(signal, f'signal {signal}')}"
        if code:
            return f"Runtime exited with error: exit status {code}"
        return "Runtime exited without providing a reason"

    def _answer(self, status: str, body: bytes, *, error_type: "str | None" = None, exited: bool = False) -> None:
        pending, origin = self._pending, self._origin or self._platform
        assert pending is not None and origin is not None
        self._pending, self._origin, self._answered = None, None, pending.request_id
        self._loop.clear_timer()
        self._read_log(all_of_it=True)
        init_ms = None
        if not self._init_reported and self._init_ms is not None:
            init_ms, self._init_reported = self._init_ms, True
        code, signal = self._exit if exited and self._exit is not None else (None, None)
        header = {
            "op": "result",
            "request_id": pending.request_id,
            "status": status,
            "error_type": error_type,
            "init_duration_ms": init_ms,
            "duration_ms": 0.0 if pending.delivered_at is None else self._since(pending.delivered_at),
            "exit_code": code,
            "exit_signal": signal,
        }
        if self._cgroup is not None:
            header["max_memory_bytes"] = self._cgroup.peak_bytes()
            if status == "crashed" and signal == _signal.SIGKILL:
                header["oom_killed"] = self._cgroup.oom_killed_since(self._oom_kills)
        room = protocol.MAX_HEADER_BYTES - len(fastjson.dumps(header)) - len(_LOG_FIELD)
        header["log"] = self._log.take(max_json_bytes=room)
        origin.write(protocol.encode(header, body))

    @staticmethod
    def _since(start: float) -> float:
        return round((time.perf_counter() - start) * 1000, 3)
