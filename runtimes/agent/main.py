"""The agent's command line, its listeners and its life.

    python -I -S /var/runtime/agent/__main__.py (--socket-fd FD | --listen tcp:HOST:PORT)
        --runtime-api HOST:PORT [--task-root DIR]

``--socket-fd`` is a listening Unix socket the agent inherits: the platform binds it where the
sandbox cannot see it, so no process of the sandbox can connect to it, replace it or plant one in
its place. ``--listen`` is a TCP address the agent listens on itself (in a pod, where nothing can be
inherited): the platform proves itself with a key whose SHA-256 digest the agent finds in
``LAMBENT_AGENT_KEY_SHA256``, required then (see ``attach``).

The agent first makes itself not dumpable (see ``hardening``), then listens on the Runtime API and
forks the Python runtime ahead of demand, which waits for init (see ``launcher``), and only then
accepts: the first connection is the platform's (over TCP, the first that sends the key), greeted
with a ``ready`` frame (see ``supervisor``); a later one is a lease holder's, whose invocations are
refused without the token the executor lent the sandbox with.

Exit status: 0 once the platform closed its connection, or on SIGTERM or SIGINT; 1 on a protocol
error, or if the agent cannot protect itself or listen (the reason on stderr); 2 for a bad command
line (or no valid key digest with ``--listen``). The runtime and its process group are killed on the
way out.
"""

import _socket
import posix
import sys

from . import hardening
from .attach import KEY_DIGEST_VARIABLE, Doorman, key_digest
from .cgroup import OwnCgroup
from .loop import POLLIN, Loop, Stream
from .protocol import ProtocolError
from .supervisor import Supervisor

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal  # the stub of _signal, which has none of its own
else:
    import _signal

USAGE = "usage: agent (--socket-fd FD | --listen tcp:HOST:PORT) --runtime-api HOST:PORT [--task-root DIR]"
_OPTIONS = ("--socket-fd", "--listen", "--runtime-api", "--task-root")
_LISTENERS = ("--socket-fd", "--listen")  # exactly one


def main(argv: list[str]) -> int:
    try:
        options = _options(argv)
        # Before anything is forked, so that no runtime inherits it (see ``hardening.forget``).
        key_hex = hardening.forget(KEY_DIGEST_VARIABLE)
        doorman_digest = key_digest(key_hex) if "--listen" in options else None
    except ValueError as error:
        sys.stderr.write(f"agent: {error}\n{USAGE}\n")
        return 2
    try:
        hardening.set_dumpable(False)
    except OSError as error:
        sys.stderr.write(f"agent: cannot protect itself: {error}\n")
        return 1
    loop = Loop()
    try:
        if doorman_digest is None:
            platform_listener = _inherited_listener(options["--socket-fd"])
        else:
            platform_listener = _listen_platform(options["--listen"])
        api_listener, runtime_api = _listen_tcp(options["--runtime-api"])
        supervisor = Supervisor(
            loop=loop, listener=api_listener, runtime_api=runtime_api, task_root=options["--task-root"],
            cgroup=OwnCgroup.find() if doorman_digest is not None else None,  # a pod: the platform is elsewhere
        )
        _watch_signals(loop, supervisor)
    except (OSError, ValueError) as error:
        sys.stderr.write(f"agent: cannot listen: {error}\n")
        return 1
    doorman = None
    if doorman_digest is not None:
        doorman = Doorman(loop=loop, digest=doorman_digest,
                          on_attached=lambda stream, rest: _attached(loop, supervisor, stream, rest))
    try:
        loop.watch(
            platform_listener.fileno(),
            POLLIN,
            lambda events: _accept_platform(loop, platform_listener, supervisor, doorman),
            close=platform_listener.close,
        )
        supervisor.stand_by()
        loop.run()
        return 0
    except ProtocolError as error:
        sys.stderr.write(f"agent: protocol error: {error}\n")
        return 1
    finally:
        supervisor.close()
        loop.close_all()


def _options(argv: list[str]) -> dict[str, str]:
    options = {"--task-root": "/var/task"}
    arguments = iter(argv)
    for argument in arguments:
        name, equals, value = argument.partition("=")
        if name not in _OPTIONS:
            raise ValueError(f"unknown argument {argument!r}")
        if not equals:
            value = next(arguments, "")
        if not value:
            raise ValueError(f"{name} needs a value")
        options[name] = value
    missing = [name for name in ("--runtime-api",) if name not in options]
    listeners = [name for name in _LISTENERS if name in options]
    if len(listeners) > 1:
        raise ValueError(f"{' and '.join(_LISTENERS)} exclude each other")
    if not listeners:
        missing.insert(0, " or ".join(_LISTENERS))
    if missing:
        raise ValueError(f"{' and '.join(missing)} missing")
    listen = options.get("--listen")
    if listen is not None and not (listen.startswith("tcp:") and listen.rpartition(":")[2].isdigit()):
        raise ValueError(f"--listen {listen!r}: tcp:HOST:PORT expected")
    return options


def _watch_signals(loop: Loop, supervisor: Supervisor) -> None:
    """SIGCHLD, SIGTERM and SIGINT reach the loop through a pipe (``signal.set_wakeup_fd``), so they
    are handled between callbacks, never in the middle of one."""
    read_end, write_end = posix.pipe()
    posix.set_blocking(read_end, False)
    posix.set_blocking(write_end, False)
    _signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    for signal in (_signal.SIGCHLD, _signal.SIGTERM, _signal.SIGINT):
        _signal.signal(signal, _noted)

    def on_wakeup(events: int) -> None:
        try:
            signals = posix.read(read_end, 64)
        except BlockingIOError:
            return
        if _signal.SIGCHLD in signals:
            supervisor.reap()
        if _signal.SIGTERM in signals or _signal.SIGINT in signals:
            loop.stop()

    def close() -> None:
        _signal.set_wakeup_fd(-1)
        posix.close(read_end)
        posix.close(write_end)

    loop.watch(read_end, POLLIN, on_wakeup, close=close)


def _noted(signal: int, frame: object) -> None:
    """Nothing: the wakeup pipe carries the signal to the loop."""


def _listen_tcp(address: str) -> "tuple[_socket.socket, str]":
    """The Runtime API's listener, and its address as runtimes are told it (the port chosen, for port 0)."""
    host, _, port = address.rpartition(":")
    family = _socket.AF_INET6 if host.startswith("[") else _socket.AF_INET
    listener = _socket.socket(family, _socket.SOCK_STREAM)
    listener.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
    listener.bind((host.strip("[]"), int(port)))
    listener.listen(16)
    return listener, f"{host}:{listener.getsockname()[1]}"


def _listen_platform(address: str) -> "_socket.socket":
    """The platform's listener for ``--listen tcp:HOST:PORT``."""
    listener, _ = _listen_tcp(address.removeprefix("tcp:"))
    posix.set_inheritable(listener.fileno(), False)
    return listener


def _inherited_listener(fd: str) -> "_socket.socket":
    """The platform's listening socket, kept from any runtime the agent spawns (the forked one
    closes it with the rest of the loop's descriptors)."""
    listener = _socket.socket(fileno=int(fd))
    if listener.family != _socket.AF_UNIX or listener.getsockopt(_socket.SOL_SOCKET, _socket.SO_ACCEPTCONN) != 1:
        listener.detach()
        raise ValueError(f"descriptor {fd} is not a listening Unix socket")
    posix.set_inheritable(listener.fileno(), False)
    return listener


def _accept_platform(loop: Loop, listener: "_socket.socket", supervisor: Supervisor,
                     doorman: "Doorman | None") -> None:
    try:
        fd, _ = listener._accept()  # type: ignore[attr-defined]  # socket.socket's accept, unwrapped
    except OSError:
        return
    sock = _socket.socket(fileno=fd)
    if supervisor.platform_attached:  # a holder of the sandbox's lease, or a stranger without its token
        supervisor.attach_holder(lambda on_data, on_close: Stream(loop, sock, on_data=on_data, on_close=on_close))
    elif doorman is not None:  # over TCP: the platform's once it sent the key
        doorman.admit(sock)
    else:
        supervisor.attach(Stream(loop, sock, on_data=supervisor.on_platform_data, on_close=loop.stop))


def _attached(loop: Loop, supervisor: Supervisor, stream: Stream, rest: bytes) -> None:
    """The doorman let the platform in: from now on its stream is the supervisor's."""
    stream.hand_over(on_data=supervisor.on_platform_data, on_close=loop.stop)
    supervisor.attach(stream)
    if rest:
        supervisor.on_platform_data(rest)
