"""Starting the runtime: a Python runtime is forked from the agent ahead of demand, any other is exec'd.

A fork, because the agent has already paid for the interpreter's start and imported the
bootstrap (``python/bootstrap.py``, imported with this module, before the agent listens), and
ahead of demand (``fork_standby``), because a fork and what follows it cost as much as a small
function's init: the fork itself (~0.7 ms here: page tables copied, then every page the child
writes faulted in at ~5 us), and shedding the agent (~0.8 ms). So the agent forks its runtime
before anyone asks for it, as it starts; the child turns itself into what ``python bootstrap.py``
would have been (its own process group, stdin on ``/dev/null``, stdout and stderr on the log pipe,
none of the agent's descriptors, nor its modules (a function may have modules named ``agent`` or
``python``), nor its folder on ``sys.path``), warms the compiler, and waits. ``start`` then only
sends it its environment and task root: it takes exactly that environment (stdout and stderr
unbuffered when ``PYTHONUNBUFFERED`` is set, as Lambda sets it), enters the task root and runs
the bootstrap, whose first instruction is the function's own ``import``. It never returns into
the agent's code: it ends with ``os._exit``. A standby that died (or could not be forked) is
replaced by ``python -I -S bootstrap.py`` exec'd afresh, never by a fork made then (see below).
The standby runs no function code before ``start``: a generic sandbox's standby, once the sandbox
is specialized, belongs to that function as the rest of the sandbox does.

Warming the compiler: the first ``compile()`` in a process costs ~1.6 ms here (CPython builds its
AST types on first use) against ~0.05 ms for the next; the agent never compiles anything (its code
comes from ``.pyc`` files), while a function's modules are compiled at every cold start
(``/var/task`` is read-only: no ``__pycache__``). The standby pays for it while it waits.

A forked runtime's ``/proc/self/environ`` still shows the agent's exec-time environment (the
kernel's copy is not rewritten by ``putenv``), so the executor starts the agent with an empty one.
And a fork holds a copy of all the agent's memory as it was, which the function can read: the
standby is forked before the agent has read anything from the platform, and it is the only fork
the agent makes. A runtime started later (the standby died) is exec'd, so whatever the agent holds
by then (the platform's frames, a lease token) never reaches the function.

Any other runtime is ``<task root>/bootstrap``, else ``/opt/bootstrap``, exec'd with the
runtime's environment through ``posix_spawn``, in its own process group too; its standby is
killed unused.
"""

import io
import posix
import sys

from . import hardening

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal  # the stub of _signal, which has none of its own
    from collections.abc import Callable
    from typing import NoReturn, TextIO

    from ..python import bootstrap
else:
    import _signal

    # "python.bootstrap" when __main__.py put the folder holding agent/ on sys.path (as in a
    # sandbox), "runtimes.python.bootstrap" when the agent runs as the package runtimes.agent.
    _PACKAGE_ROOT = __name__.rpartition(".")[0].rpartition(".")[0]
    __import__(f"{_PACKAGE_ROOT}.python.bootstrap" if _PACKAGE_ROOT else "python.bootstrap")
    bootstrap = sys.modules[f"{_PACKAGE_ROOT}.python.bootstrap" if _PACKAGE_ROOT else "python.bootstrap"]

_BLOCKED_AROUND_FORK = (_signal.SIGTERM, _signal.SIGINT, _signal.SIGCHLD)
# An exec keeps the signals a process ignores, and Python ignores SIGPIPE and SIGXFSZ.
_DEFAULT_AFTER_EXEC = (_signal.SIGPIPE, _signal.SIGXFSZ, _signal.SIGTERM, _signal.SIGINT, _signal.SIGCHLD)


class LaunchError(Exception):
    """The runtime could not be started; the message says why, as Lambda would."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class Runtime:
    __slots__ = ("pid", "log_fd")

    def __init__(self, *, pid: int, log_fd: int) -> None:
        self.pid = pid  # also its process group's id
        self.log_fd = log_fd  # the read end of its stdout and stderr, non-blocking


class Standby:
    """A Python runtime forked ahead of demand, waiting for ``start`` to send its environment."""

    __slots__ = ("pid", "log_fd", "go_fd")

    def __init__(self, *, pid: int, log_fd: int, go_fd: int) -> None:
        self.pid = pid  # also its process group's id
        self.log_fd = log_fd  # the read end of its stdout and stderr, non-blocking
        self.go_fd = go_fd  # where its environment goes; closing it unsent tells it to exit

    def alive(self) -> bool:
        """Whether it still waits (collecting it if it died)."""
        try:
            return posix.waitpid(self.pid, posix.WNOHANG) == (0, 0)
        except ChildProcessError:
            return False


def fork_standby(*, close_agent_files: "Callable[[], None]") -> Standby:
    """Fork a Python runtime now, to be ``start``ed later; ``close_agent_files`` closes the agent's
    descriptors in the fork. ``LaunchError`` if the fork fails."""
    log_read, log_write = posix.pipe()
    go_read, go_write = posix.pipe()
    for stream in (sys.stdout, sys.stderr):  # what the agent buffered must not reach the runtime's log
        if stream is not None:
            stream.flush()
    # Blocked until the child has put back the default handlers, so none of the agent's runs in it.
    mask = _signal.pthread_sigmask(_signal.SIG_BLOCK, _BLOCKED_AROUND_FORK)
    try:
        pid = posix.fork()
    except OSError as error:
        _signal.pthread_sigmask(_signal.SIG_SETMASK, mask)
        for fd in (log_read, log_write, go_read, go_write):
            posix.close(fd)
        raise LaunchError("Runtime.Unknown", f"Couldn't start the runtime: {error.strerror}") from None
    if pid == 0:
        _wait_then_run(go_read=go_read, log_write=log_write, agent_ends=(log_read, go_write), mask=mask,
                       close=close_agent_files)
    _signal.pthread_sigmask(_signal.SIG_SETMASK, mask)
    try:
        posix.setpgid(pid, pid)  # the child does it too: whichever runs first, the group exists at once
    except OSError:  # the child did it already and exited
        pass
    posix.close(log_write)
    posix.close(go_read)
    posix.set_blocking(log_read, False)
    return Standby(pid=pid, log_fd=log_read, go_fd=go_write)


def discard(standby: Standby) -> None:
    """Kill an unused standby and collect it."""
    try:
        posix.killpg(standby.pid, _signal.SIGKILL)
    except OSError:  # gone already
        pass
    try:
        posix.waitpid(standby.pid, 0)
    except ChildProcessError:
        pass
    posix.close(standby.log_fd)
    posix.close(standby.go_fd)


def start(
    *,
    runtime: str,
    environment: dict[str, str],
    task_root: str,
    standby: "Standby | None" = None,
) -> Runtime:
    """Start the runtime in ``task_root``: a Python one from ``standby`` when it still waits, else
    exec'd now."""
    try:
        # Only now: a generic sandbox, started ahead of demand, gets its code mounted at the task
        # root when it is specialized, just before this init.
        posix.chdir(task_root)
    except OSError as error:
        if standby is not None:
            discard(standby)
        raise LaunchError("Runtime.InvalidEntrypoint", f"Couldn't enter {task_root}: {error.strerror}") from None
    if not runtime.startswith("python"):
        if standby is not None:
            discard(standby)
        return _spawn_bootstrap(environment=environment, task_root=task_root)
    if standby is None or not standby.alive():
        if standby is not None:
            discard(standby)
        return _spawn_python(environment=environment)
    _send_all(standby.go_fd, bootstrap.dumps({"environment": environment, "task_root": task_root}))
    posix.close(standby.go_fd)
    return Runtime(pid=standby.pid, log_fd=standby.log_fd)


def _send_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` (a pipe takes 64 KiB at once; the child reads as it comes)."""
    view = memoryview(data)
    while view:
        try:
            view = view[posix.write(fd, view) :]
        except BrokenPipeError:  # the child died meanwhile: it will be reported as exited in its init
            return


def _spawn_bootstrap(*, environment: dict[str, str], task_root: str) -> Runtime:
    candidates = (f"{task_root}/bootstrap", "/opt/bootstrap")
    path = next((candidate for candidate in candidates if _executable(candidate)), None)
    if path is None:
        message = f"Couldn't find valid bootstrap(s): [{' '.join(candidates)}]"
        raise LaunchError("Runtime.InvalidEntrypoint", message)
    return _spawn(path, [path], environment=environment)


def _spawn_python(*, environment: dict[str, str]) -> Runtime:
    """The Python runtime as the standby would have become it: the agent's interpreter and flags
    (``-I -S``; ``-u`` for ``PYTHONUNBUFFERED``, which ``-I`` would ignore) running the bootstrap."""
    unbuffered = ["-u"] if environment.get("PYTHONUNBUFFERED") else []
    script = bootstrap.__file__ or "bootstrap.py"
    return _spawn(sys.executable, [sys.executable, "-I", "-S", *unbuffered, script], environment=environment)


def _spawn(path: str, argv: "list[str]", *, environment: dict[str, str]) -> Runtime:
    log_read, log_write = posix.pipe()
    actions = [
        (posix.POSIX_SPAWN_OPEN, 0, "/dev/null", posix.O_RDONLY, 0),
        (posix.POSIX_SPAWN_DUP2, log_write, 1),
        (posix.POSIX_SPAWN_DUP2, log_write, 2),
    ]
    try:
        pid = posix.posix_spawn(
            path, argv, environment, file_actions=actions, setpgroup=0, setsigdef=_DEFAULT_AFTER_EXEC, setsigmask=()
        )
    except OSError as error:
        posix.close(log_read)
        raise LaunchError("Runtime.InvalidEntrypoint", f"Couldn't start {path}: {error.strerror}") from None
    finally:
        posix.close(log_write)
    posix.set_blocking(log_read, False)
    return Runtime(pid=pid, log_fd=log_read)


def _executable(path: str) -> bool:
    try:
        mode = posix.stat(path).st_mode
    except OSError:
        return False
    return mode & 0o170000 == 0o100000 and posix.access(path, posix.X_OK)  # a regular file one may run


def _wait_then_run(
    *, go_read: int, log_write: int, agent_ends: "tuple[int, int]", mask: "set[int]", close: "Callable[[], None]"
) -> "NoReturn":
    """The standby's life: shed the agent, warm the compiler, wait for ``start``, run the bootstrap."""
    status = 1
    try:
        hardening.set_dumpable(True)  # the agent is not (see ``hardening``); the function's runtime is
        posix.setpgid(0, 0)
        _signal.set_wakeup_fd(-1)
        _signal.signal(_signal.SIGTERM, _signal.SIG_DFL)
        _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)
        _signal.pthread_sigmask(_signal.SIG_SETMASK, mask)
        close()
        for fd in agent_ends:
            posix.close(fd)
        _redirect_descriptors(log_write)
        _unload_agent()
        compile("", "<warm-up>", "exec")
        message = _read_all(go_read)
        if not message:  # the agent ended, or discarded this standby
            posix._exit(0)
        init = bootstrap.loads(message)
        environment: dict[str, str] = init["environment"]
        posix.chdir(init["task_root"])
        _text_streams(unbuffered=bool(environment.get("PYTHONUNBUFFERED")))
        _replace_environment(environment)
        status = bootstrap.main()
    except SystemExit as exit:
        status = _exit_status(exit)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        _exit(status)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := posix.read(fd, 65536):
        chunks.append(chunk)
    posix.close(fd)
    return b"".join(chunks)


def _redirect_descriptors(log_write: int) -> None:
    null = posix.open("/dev/null", posix.O_RDONLY)
    if null:
        posix.dup2(null, 0)
        posix.close(null)
    posix.dup2(log_write, 1)
    posix.dup2(log_write, 2)
    posix.close(log_write)


def _text_streams(*, unbuffered: bool) -> None:
    """``sys.stdout`` and ``sys.stderr`` on the log pipe (descriptors 1 and 2 by now)."""
    sys.stdout = _text_stream(1, like=sys.stdout, errors="strict", unbuffered=unbuffered)
    sys.stderr = _text_stream(2, like=sys.stderr, errors="backslashreplace", unbuffered=unbuffered)


def _text_stream(fd: int, *, like: "TextIO | None", errors: str, unbuffered: bool) -> "TextIO":
    """A text stream on ``fd`` as the interpreter makes ``sys.stdout`` (encoding as the agent's)."""
    raw = io.FileIO(fd, "w", closefd=False)
    if like is not None:
        encoding, errors = like.encoding, like.errors or errors
    else:
        encoding = "utf-8"
    if unbuffered:
        return io.TextIOWrapper(raw, encoding=encoding, errors=errors, write_through=True)
    return io.TextIOWrapper(io.BufferedWriter(raw), encoding=encoding, errors=errors)


def _replace_environment(environment: dict[str, str]) -> None:
    """Exactly ``environment``, for the C library (``putenv``) and for ``os.environ``, which wraps
    ``posix.environ`` whether ``os`` is imported already or later."""
    current = posix.environ
    for old in list(current):
        posix.unsetenv(old)
    current.clear()
    for name, value in environment.items():
        posix.putenv(name, value)
        current[name.encode(errors="surrogateescape")] = value.encode(errors="surrogateescape")


def _unload_agent() -> None:
    """Forget the agent's packages (and ``python``, the bootstrap's), and the folder holding them; and
    let ``__main__`` be the bootstrap's script, not the agent's, as in ``python bootstrap.py``: a
    ``multiprocessing`` child of the "spawn" or "forkserver" kind re-runs the parent's main script,
    and would start a second agent."""
    ours = {__name__.partition(".")[0], bootstrap.__name__.partition(".")[0]}
    holder = (sys.modules[__name__.partition(".")[0]].__file__ or "").rpartition("/")[0].rpartition("/")[0]
    for name in [name for name in sys.modules if name.partition(".")[0] in ours]:
        del sys.modules[name]
    sys.path[:] = [entry for entry in sys.path if entry != holder]
    sys.argv[:] = [bootstrap.__file__ or "bootstrap.py"]
    main = type(sys)("__main__")  # a script's module: no __spec__, so children run it by path
    main.__file__ = sys.argv[0]
    sys.modules["__main__"] = main


def _exit_status(exit: SystemExit) -> int:
    """What the interpreter would exit with after ``exit``."""
    if exit.code is None:
        return 0
    if isinstance(exit.code, int):
        return exit.code & 0xFF
    print(exit.code, file=sys.stderr)
    return 1


def _exit(status: int) -> "NoReturn":
    """End the runtime as an interpreter ends, save unwinding into the agent's frames."""
    try:
        import atexit

        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    finally:
        posix._exit(status)
