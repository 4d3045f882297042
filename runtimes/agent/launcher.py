"""Starting the runtime: a Python runtime is a fork of the agent, any other runtime is exec'd.

A fork, because the agent has already paid for the interpreter's start and imported the
bootstrap (``python/bootstrap.py``, imported with this module, before the agent listens): the
runtime's first instruction is the function's own ``import`` (a fork costs ~1 ms here, a fresh
interpreter ~15 ms). The child then turns itself into what ``python bootstrap.py`` would have
been: its own process group, stdin on ``/dev/null``, stdout and stderr on the log pipe
(unbuffered when ``PYTHONUNBUFFERED`` is set, as Lambda sets it), exactly the runtime's
environment, none of the agent's descriptors, nor its modules (a function may have modules
named ``agent`` or ``python``), nor its folder on ``sys.path``. It never returns into the agent's
code: it ends with ``os._exit``. Its ``/proc/self/environ`` still shows the agent's exec-time
environment (the kernel's copy is not rewritten by ``putenv``), so the executor starts the agent
with an empty one.

Any other runtime is ``<task root>/bootstrap``, else ``/opt/bootstrap``, exec'd with the
runtime's environment through ``posix_spawn``, in its own process group too.
"""

import io
import posix
import sys

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


def start(
    *, runtime: str, environment: dict[str, str], task_root: str, close_agent_files: "Callable[[], None]"
) -> Runtime:
    """Start the runtime in ``task_root``; ``close_agent_files`` closes the agent's descriptors in a fork."""
    try:
        # Only now: a generic sandbox, started ahead of demand, gets its code mounted at the task
        # root when it is specialized, just before this init.
        posix.chdir(task_root)
    except OSError as error:
        raise LaunchError("Runtime.InvalidEntrypoint", f"Couldn't enter {task_root}: {error.strerror}") from None
    log_read, log_write = posix.pipe()
    try:
        if runtime.startswith("python"):
            pid = _fork(environment=environment, log_read=log_read, log_write=log_write, close=close_agent_files)
        else:
            pid = _spawn(environment=environment, task_root=task_root, log_write=log_write)
    except BaseException:
        posix.close(log_read)
        raise
    finally:
        posix.close(log_write)
    posix.set_blocking(log_read, False)
    return Runtime(pid=pid, log_fd=log_read)


def _spawn(*, environment: dict[str, str], task_root: str, log_write: int) -> int:
    candidates = (f"{task_root}/bootstrap", "/opt/bootstrap")
    path = next((candidate for candidate in candidates if _executable(candidate)), None)
    if path is None:
        message = f"Couldn't find valid bootstrap(s): [{' '.join(candidates)}]"
        raise LaunchError("Runtime.InvalidEntrypoint", message)
    actions = [
        (posix.POSIX_SPAWN_OPEN, 0, "/dev/null", posix.O_RDONLY, 0),
        (posix.POSIX_SPAWN_DUP2, log_write, 1),
        (posix.POSIX_SPAWN_DUP2, log_write, 2),
    ]
    try:
        return posix.posix_spawn(
            path, [path], environment, file_actions=actions, setpgroup=0, setsigdef=_DEFAULT_AFTER_EXEC, setsigmask=()
        )
    except OSError as error:
        raise LaunchError("Runtime.InvalidEntrypoint", f"Couldn't start {path}: {error.strerror}") from None


def _executable(path: str) -> bool:
    try:
        mode = posix.stat(path).st_mode
    except OSError:
        return False
    return mode & 0o170000 == 0o100000 and posix.access(path, posix.X_OK)  # a regular file one may run


def _fork(*, environment: dict[str, str], log_read: int, log_write: int, close: "Callable[[], None]") -> int:
    for stream in (sys.stdout, sys.stderr):  # what the agent buffered must not reach the runtime's log
        if stream is not None:
            stream.flush()
    # Blocked until the child has put back the default handlers, so none of the agent's runs in it.
    mask = _signal.pthread_sigmask(_signal.SIG_BLOCK, _BLOCKED_AROUND_FORK)
    try:
        pid = posix.fork()
    except OSError as error:
        _signal.pthread_sigmask(_signal.SIG_SETMASK, mask)
        raise LaunchError("Runtime.Unknown", f"Couldn't start the runtime: {error.strerror}") from None
    if pid == 0:
        _become_runtime(environment=environment, log_read=log_read, log_write=log_write, mask=mask, close=close)
    _signal.pthread_sigmask(_signal.SIG_SETMASK, mask)
    try:
        posix.setpgid(pid, pid)  # the child does it too: whichever runs first, the group exists at once
    except OSError:  # the child did it already and exited
        pass
    return pid


def _become_runtime(
    *, environment: dict[str, str], log_read: int, log_write: int, mask: "set[int]", close: "Callable[[], None]"
) -> "NoReturn":
    status = 1
    try:
        posix.setpgid(0, 0)
        _signal.set_wakeup_fd(-1)
        _signal.signal(_signal.SIGTERM, _signal.SIG_DFL)
        _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)
        _signal.pthread_sigmask(_signal.SIG_SETMASK, mask)
        close()
        posix.close(log_read)
        _redirect_output(log_write, unbuffered=bool(environment.get("PYTHONUNBUFFERED")))
        _replace_environment(environment)
        _unload_agent()
        status = bootstrap.main()
    except SystemExit as exit:
        status = _exit_status(exit)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        _exit(status)


def _redirect_output(log_write: int, *, unbuffered: bool) -> None:
    null = posix.open("/dev/null", posix.O_RDONLY)
    if null:
        posix.dup2(null, 0)
        posix.close(null)
    posix.dup2(log_write, 1)
    posix.dup2(log_write, 2)
    posix.close(log_write)
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
    """Forget the agent's packages (and ``python``, the bootstrap's), and the folder holding them."""
    ours = {__name__.partition(".")[0], bootstrap.__name__.partition(".")[0]}
    holder = (sys.modules[__name__.partition(".")[0]].__file__ or "").rpartition("/")[0].rpartition("/")[0]
    for name in [name for name in sys.modules if name.partition(".")[0] in ours]:
        del sys.modules[name]
    sys.path[:] = [entry for entry in sys.path if entry != holder]
    sys.argv[:] = [bootstrap.__file__ or "bootstrap.py"]


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
