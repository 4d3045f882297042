"""Launch one sandbox: a process tree in bubblewrap, inside its own cgroup, as an unprivileged uid.

What a sandboxed process gets, and why:

- Namespaces: user, pid, net, ipc, uts, cgroup and mount (``--unshare-all --unshare-user``),
  and no further user namespaces inside (``--disable-userns`` where bwrap has it, 0.8+). With
  its own pid namespace the whole tree dies with it, daemons included; with its own network
  namespace it has a loopback of its own and cannot reach the host's.
- Identity: the host sees a uid/gid of its own per live sandbox (``UidPool``), no
  supplementary groups, no capabilities, ``no_new_privs``. Inside, ``id`` shows
  ``uid=1000 gid=1000 groups=1000`` (numbers only: there is no ``/etc/passwd``).
- Files: ``/usr`` and the host's ``/bin``, ``/lib*``, ``/sbin`` (symlinks into ``/usr`` on
  merged-usr hosts), the interpreter's prefix when outside ``/usr``, all read-only; the code
  read-only at ``/var/task``, ``runtimes/`` read-only at ``/var/runtime``, a size-limited
  ``/tmp``, a fresh ``/proc``; the root itself (bwrap's tmpfs of mount points) read-only.
  Nothing of ``/etc``: Python needs none of it; without it there is no user database, no
  resolver configuration (use ``127.0.0.1``, not ``localhost``) and no time zone (UTC, as on
  Lambda). Nothing the platform talks through either: the caller hands the command what it
  needs as inherited descriptors (``pass_fds``), such as the agent's listening socket, whose
  path on the host the sandbox cannot see.
- ``/dev``: read-only, holding only ``null``, ``zero``, ``full``, ``random``, ``urandom`` and
  ``tty`` (there is no controlling terminal: opening it fails with ENXIO), the ``fd``,
  ``stdin``, ``stdout`` and ``stderr`` links into ``/proc/self/fd``, and ``/dev/shm``, the one
  writable place in it (POSIX shared memory and semaphores: ``multiprocessing`` needs it). No
  ``pts``, no ``ptmx``. ``/tmp`` and ``/dev/shm`` are two folders of one tmpfs, so they share
  its size.
- Environment: none. bwrap itself starts with only ``PATH``, ``LANG`` and the launching
  shell's ``PWD=/`` (all ``/proc/1/environ`` shows inside), and ``--clearenv`` gives the
  command an empty one (bwrap adds ``PWD``); the agent builds the runtime's environment
  from what the platform sends it over the socket. Nothing goes through ``--setenv``:
  command lines are public in ``/proc``.
- Limits: the cgroup (see ``cgroups``) bounds memory, tasks and CPU share. ``pids_max``
  counts bwrap's two processes too. ``/tmp`` (with ``/dev/shm``) is a tmpfs whose pages are
  charged to the sandbox's memory cgroup: a full ``/tmp`` uses up to ``tmp_mb`` of ``memory_mb``.
- System calls: the allow-list and the agent's guard of ``seccomp`` (``spec.seccomp``), which
  bwrap loads before it execs the command, its own init included; a call outside the list
  fails with EPERM. Needs bwrap 0.5+ (``--add-seccomp-fd``) and libseccomp.

How it starts: ``/bin/sh`` (as root) writes its own pid into the cgroup's ``cgroup.procs``
files, then execs ``setpriv`` (drop to the sandbox uid, groups, capabilities), which execs
bwrap. So the tree is inside the cgroup before bwrap forks anything, without ``preexec_fn``
(unsafe in the threaded executor). A failed cgroup join exits with status 125. The wrapper
costs ~1 ms (sh) plus ~2 ms (setpriv); the join itself is dearer after an idle spell: the
first ``cgroup.procs`` write then waits one RCU grace period (~8 ms measured on the v1 dev
host) unless cgroupfs is mounted with ``favordynmods``.

Host paths are not handed to bwrap directly: bwrap runs as the sandbox uid and could not
reach code or interpreters under directories closed to other users (``/root`` is 0700). As
root, the launcher first bind-mounts them into a per-sandbox staging tmpfs under
``state_root`` (mode 0710, group = the sandbox gid, so no other sandbox uid can enter it)
and bwrap binds from there; the sized ``/tmp`` tmpfs is mounted there too, which also spares
a bwrap ``--size`` option old bwraps lack. ``destroy()`` detaches the staging tree in one
lazy unmount; ``reap_orphans()`` clears what a crashed executor left.

``--die-with-parent`` makes bwrap die when the *thread* that started it exits (Linux's
parent-death signal follows the creating thread): launch from a thread that outlives the
sandbox, such as the event loop's or a long-lived pool's.

UNSANDBOXED MODE (``isolation=False``, when an operator sets ``LAMBENT_SANDBOX=none``): the
command runs directly on the host as the executor's own user, with no namespace, no cgroup,
no uid change, no size limit, no seccomp filter and the host's real ``/tmp`` and ``/dev``; only the
environment is still cleared, and the command is sent SIGTERM when the thread that started it
ends (``setpriv --pdeathsig``). Function code can read everything that user can. It exists for
developing without root, never for running anyone else's code. Arguments naming a path under
``/var/task``, ``/var/runtime`` or an extra bind's target are rewritten to the host path.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import ctypes
import errno
import functools
import os
import re
import shutil
import signal
import stat
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from worker.executors.local import seccomp
from worker.executors.local.cgroups import Cgroup, CgroupDriver
from worker.executors.local.interpreters import Interpreter

BWRAP = "/usr/bin/bwrap"
SETPRIV = "/usr/bin/setpriv"
DEFAULT_STATE_ROOT = Path("/run/lambent-sandboxes")
SANDBOX_UID = 1000
SANDBOX_GID = 1000
TASK_DIR, RUNTIME_DIR = "/var/task", "/var/runtime"
#: The device nodes of a sandbox's ``/dev``, bound from the host's.
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
ENVIRONMENT = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
JOIN_FAILED = 125
# argv: <procs files>... -- <command>...: joins every cgroup, forbids core dumps, execs the command.
_JOIN_AND_EXEC = (
    f'while [ "$1" != -- ]; do echo $$ > "$1" || exit {JOIN_FAILED}; shift; done; shift; '
    'ulimit -c 0; exec "$@"'
)
_STDERR_TAIL_BYTES = 64 * 1024
# Unsandboxed, a daemon that left the process group may hold stderr open for ever.
_DRAIN_SECONDS = 1.0
_SANDBOX_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REMOUNT, _MS_BIND = 0x1, 0x2, 0x4, 0x8, 0x20, 0x1000
_MNT_DETACH = 0x2
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]

# Staging directories of the sandboxes alive in this process: reaping never touches them.
_LIVE: set[Path] = set()


class SandboxError(Exception):
    """A sandbox could not be prepared, started or cleaned up."""


class SandboxUnavailable(SandboxError):
    """Sandboxing is impossible here (not root, no bwrap, no cgroups) and was not waived."""


@dataclass(frozen=True, kw_only=True)
class SandboxSpec:
    """Everything one sandbox is made of. ``command`` is the argv inside the sandbox; host
    directories are mounted as described in the module docstring."""

    sandbox_id: str
    interpreter: Interpreter | None
    command: list[str]
    code_dir: Path | None  # None: a generic sandbox, its code bound later by ``specialize``
    runtime_dir: Path
    tmp_mb: int
    memory_mb: int
    pids_max: int
    uid: int
    gid: int
    extra_ro_binds: list[tuple[Path, str]] = field(default_factory=list)
    seccomp: bool = True  # the filters of ``seccomp``; False: unconfined (LAMBENT_SECCOMP=unconfined)

    def __post_init__(self) -> None:
        if not _SANDBOX_ID.match(self.sandbox_id):
            raise ValueError(f"not a valid sandbox id: {self.sandbox_id!r}")
        if not self.command:
            raise ValueError("a sandbox needs a command")
        if min(self.tmp_mb, self.memory_mb, self.pids_max) < 1:
            raise ValueError("tmp_mb, memory_mb and pids_max must be positive")
        if self.uid <= 0 or self.gid <= 0:
            raise ValueError("a sandbox never runs as uid or gid 0 on the host")


class UidPool:
    """Hands out a distinct host uid (used as the gid too) to each live sandbox. Choose a range
    no real user and no ``/etc/subuid`` entry uses. Thread-safe."""

    def __init__(self, *, base: int = 200000, size: int = 65536) -> None:
        if base <= 0 or size <= 0:
            raise ValueError("base and size must be positive")
        self.base, self.size = base, size
        self._in_use: set[int] = set()
        self._next = 0
        self._lock = threading.Lock()

    def acquire(self) -> int:
        """A uid no live sandbox has; the least recently handed out first."""
        with self._lock:
            for offset in range(self.size):
                uid = self.base + (self._next + offset) % self.size
                if uid not in self._in_use:
                    self._in_use.add(uid)
                    self._next = (uid - self.base + 1) % self.size
                    return uid
        raise SandboxError(f"all {self.size} sandbox uids from {self.base} are in use")

    def release(self, uid: int) -> None:
        with self._lock:
            self._in_use.discard(uid)

    def in_use(self) -> int:
        with self._lock:
            return len(self._in_use)


def bwrap_available(bwrap: str = BWRAP) -> tuple[bool, str]:
    """Whether bwrap can build a sandbox here as an unprivileged uid, and why not if it cannot."""
    for tool in (bwrap, SETPRIV):
        if not os.access(tool, os.X_OK):
            return False, f"{tool} is missing (apt-get install bubblewrap util-linux)"
    drop = [SETPRIV, "--reuid=65534", "--regid=65534", "--clear-groups", "--"] if os.geteuid() == 0 else []
    argv = [*drop, bwrap, "--unshare-all", "--unshare-user", "--ro-bind", "/usr", "/usr", *_root_links(),
            "--proc", "/proc", "--dev", "/dev", "--", "/usr/bin/true"]
    try:
        result = subprocess.run(argv, env={}, capture_output=True, timeout=10, cwd="/")
    except (OSError, subprocess.SubprocessError) as error:
        return False, f"{bwrap} does not run: {error}"
    if result.returncode != 0:
        return False, f"{bwrap} cannot create a sandbox: {result.stderr.decode(errors='replace').strip()}"
    return True, subprocess.run([bwrap, "--version"], capture_output=True, text=True).stdout.strip()


@functools.cache
def _root_links() -> tuple[str, ...]:
    """``/bin``, ``/lib``... as on this host: symlinks into ``/usr`` (merged usr) or directories."""
    args: list[str] = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/", name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return tuple(args)


@functools.cache
def _bwrap_options(bwrap: str) -> frozenset[str]:
    result = subprocess.run([bwrap, "--help"], env={}, capture_output=True, text=True)
    return frozenset(re.findall(r"^\s+(--[a-z0-9-]+)", result.stdout, re.MULTILINE))


@dataclass(frozen=True)
class _Bind:
    source: Path | None  # on the host; None: an empty mount point that ``specialize`` fills
    staged: str  # the name of its mount point in the staging directory
    target: str  # inside the sandbox
    writable: bool = False


def _binds(spec: SandboxSpec) -> list[_Bind]:
    interpreter_mounts = spec.interpreter.mounts if spec.interpreter else ()
    binds = [_Bind(path, f"ro{index}", str(path)) for index, path in enumerate(interpreter_mounts)]
    binds += [_Bind(spec.code_dir, "task", TASK_DIR), _Bind(spec.runtime_dir, "runtime", RUNTIME_DIR)]
    binds += [_Bind(source, f"ro{len(interpreter_mounts) + index}", target)
              for index, (source, target) in enumerate(spec.extra_ro_binds)]
    return binds


def bwrap_argv(spec: SandboxSpec, *, staging: Path, bwrap: str = BWRAP, seccomp_fds: Sequence[int] = ()) -> list[str]:
    """The bwrap command line for ``spec``, its host directories staged under ``staging``, the
    seccomp programs to load read from ``seccomp_fds``."""
    userns = ["--disable-userns"] if "--disable-userns" in _bwrap_options(bwrap) else []
    argv = [bwrap, "--unshare-all", "--unshare-user", *userns, "--die-with-parent", "--new-session",
            "--hostname", "sandbox", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID), "--cap-drop", "ALL",
            "--clearenv", "--ro-bind", "/usr", "/usr", *_root_links()]
    for bind in _binds(spec):
        argv += ["--bind" if bind.writable else "--ro-bind", str(staging / bind.staged), bind.target]
    argv += ["--bind", str(staging / "scratch" / "tmp"), "/tmp", "--proc", "/proc", *_dev_argv(staging)]
    for fd in seccomp_fds:
        argv += ["--add-seccomp-fd", str(fd)]
    # The root (bwrap's tmpfs holding the mount points) is made read-only last, as Lambda's file
    # system is: a function writes to /tmp (and /dev/shm) only, whose size is limited.
    return [*argv, "--remount-ro", "/", "--chdir", TASK_DIR, "--", *spec.command]


def _dev_argv(staging: Path) -> list[str]:
    """A ``/dev`` of its own (not bwrap's ``--dev``, which adds ``pts``, ``ptmx`` and ``core`` and
    leaves the tmpfs writable): the devices bound from the host's, read-only but ``/dev/shm``."""
    argv = ["--tmpfs", "/dev"]
    for device in DEVICES:
        argv += ["--dev-bind", f"/dev/{device}", f"/dev/{device}"]
    argv += ["--symlink", "/proc/self/fd", "/dev/fd"]
    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        argv += ["--symlink", f"/proc/self/fd/{fd}", f"/dev/{name}"]
    # --remount-ro is not recursive: /dev/shm and the device binds keep their own flags.
    return [*argv, "--bind", str(staging / "scratch" / "shm"), "/dev/shm", "--remount-ro", "/dev"]


def _launcher_argv(spec: SandboxSpec, *, cgroup: Cgroup, staging: Path, bwrap: str,
                   seccomp_fds: Sequence[int]) -> list[str]:
    setpriv = [SETPRIV, f"--reuid={spec.uid}", f"--regid={spec.gid}", "--clear-groups", "--inh-caps=-all",
               "--bounding-set=-all", "--no-new-privs", "--"]
    procs = [str(path) for path in cgroup.procs_files()]
    return ["/bin/sh", "-c", _JOIN_AND_EXEC, "lambent-sandbox", *procs, "--", *setpriv,
            *bwrap_argv(spec, staging=staging, bwrap=bwrap, seccomp_fds=seccomp_fds)]


def _host_argv(spec: SandboxSpec) -> list[str]:
    """The command of an unsandboxed run, its in-sandbox paths rewritten to host paths."""
    if spec.code_dir is None:
        raise SandboxError("generic sandboxes need isolation: unsandboxed runs bind nothing later")
    mapping = [(bind.target, str(bind.source)) for bind in _binds(spec)]
    argv = []
    for arg in spec.command:
        for target, source in mapping:
            if arg == target or arg.startswith(target + "/"):
                arg = source + arg[len(target):]
                break
        argv.append(arg)
    return argv


def _mount(source: str, target: Path, fstype: str | None, flags: int, data: str | None = None) -> None:
    if _libc.mount(source.encode(), bytes(target), fstype and fstype.encode(), flags, data and data.encode()):
        error = ctypes.get_errno()
        raise SandboxError(f"cannot mount {source} on {target}: {os.strerror(error)}")


def _detach(target: Path) -> None:
    """Lazily unmount ``target`` with everything mounted below it."""
    if _libc.umount2(bytes(target), _MNT_DETACH):
        error = ctypes.get_errno()
        if error not in (errno.EINVAL, errno.ENOENT):  # not a mount point (any more), or gone
            raise SandboxError(f"cannot unmount {target}: {os.strerror(error)}")


def _check_traversable(path: Path) -> None:
    for directory in (path, *path.parents):
        if not directory.stat().st_mode & stat.S_IXOTH:
            raise SandboxError(f"{directory} is closed to other users (o-x): bwrap, running as the sandbox uid, "
                               f"cannot reach the staging directories under {path}")


class _Staging:
    """The per-sandbox tmpfs under ``state_root`` holding the bind mounts bwrap starts from."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, spec: SandboxSpec, state_root: Path) -> _Staging:
        state_root.mkdir(mode=0o711, parents=True, exist_ok=True)
        state_root = state_root.resolve()  # as /proc/self/mountinfo spells it, for reaping
        _check_traversable(state_root)
        staging = cls(state_root / spec.sandbox_id)
        try:
            staging.path.mkdir(mode=0o700)
        except FileExistsError as error:
            raise SandboxError(f"sandbox {spec.sandbox_id} already has a staging directory") from error
        _LIVE.add(staging.path)
        try:
            staging._populate(spec)
        except OSError as error:
            staging.release()
            raise SandboxError(f"cannot stage sandbox {spec.sandbox_id}: {error}") from error
        except BaseException:
            staging.release()
            raise
        return staging

    def _populate(self, spec: SandboxSpec) -> None:
        options = f"size=64k,nr_inodes=64,mode=0710,uid=0,gid={spec.gid}"
        _mount("lambent-sandbox", self.path, "tmpfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, options)
        for bind in _binds(spec):
            mount_point = self.path / bind.staged
            if bind.source is None:
                # A shared mount point: what is bound here later propagates into the sandbox.
                mount_point.mkdir()
                _mount(str(mount_point), mount_point, None, _MS_BIND)
                _mount("none", mount_point, None, _MS_SHARED)
                continue
            if bind.source.is_dir():
                mount_point.mkdir()
            else:
                mount_point.touch()
            _mount(str(bind.source), mount_point, None, _MS_BIND)
            if not bind.writable:
                # Read-only on the host side too: whatever walks the staging tree (a careless
                # cleanup, a bug) gets EROFS instead of deleting the code, runtimes or interpreter.
                _mount("none", mount_point, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
        scratch = self.path / "scratch"  # /tmp and /dev/shm: one tmpfs, one size
        scratch.mkdir()
        inodes = max(4096, spec.tmp_mb * 64)  # one inode per 16 KiB, as mkfs.ext4 allots
        _mount("lambent-tmp", scratch, "tmpfs", _MS_NOSUID | _MS_NODEV,
               f"size={spec.tmp_mb}m,nr_inodes={inodes},mode=0711")
        for name in ("tmp", "shm"):
            (scratch / name).mkdir()
            (scratch / name).chmod(0o1777)

    def release(self) -> None:
        """Idempotent."""
        _detach(self.path)
        with contextlib.suppress(FileNotFoundError):
            self.path.rmdir()
        _LIVE.discard(self.path)


def _mount_points(under: Path) -> list[Path]:
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = Path(re.sub(r"\\([0-7]{3})", lambda match: chr(int(match[1], 8)), line.split()[4]))
        if point.parent == under:
            points.append(point)
    return points


_CLONE_NEWNS, _MS_REC, _MS_SLAVE, _MS_SHARED = 0x00020000, 0x4000, 0x80000, 0x100000
_libc.unshare.argtypes = [ctypes.c_int]


def isolate_mounts() -> None:
    """Give this process a mount namespace of its own, receiving the host's mounts but never
    showing its own: the staging mounts of its sandboxes are then invisible to every other
    process of the host and vanish with the executor. Call it before any thread starts
    (the kernel refuses to unshare the mount namespace of a multi-threaded process)."""
    if _libc.unshare(_CLONE_NEWNS):
        raise SandboxError(f"cannot unshare the mount namespace: {os.strerror(ctypes.get_errno())}")
    if _libc.mount(b"none", b"/", None, _MS_REC | _MS_SLAVE, None):
        raise SandboxError(f"cannot make / a slave mount: {os.strerror(ctypes.get_errno())}")


def remove_tree(path: Path) -> None:
    """``shutil.rmtree`` that never crosses into a mount point: a staging tree left mounted
    (binds of code, runtimes, interpreters) raises ``SandboxError`` instead of being deleted
    through. Use it for any folder a sandbox may have lived under."""
    if not path.exists():
        return
    for root, directories, _ in os.walk(path, topdown=True):
        for name in directories:
            if os.path.ismount(os.path.join(root, name)):
                raise SandboxError(f"refusing to remove {path}: {os.path.join(root, name)} is still mounted")
    shutil.rmtree(path)


def reap_orphans(*, cgroups: CgroupDriver, state_root: Path = DEFAULT_STATE_ROOT) -> list[str]:
    """Kill and clear every sandbox a previous executor process left: its cgroups, its staging
    mounts and directories. Sandboxes of this process are left alone. Returns their ids."""
    reaped = set(cgroups.reap_all())
    state_root = state_root.resolve()
    if state_root.is_dir():
        for point in _mount_points(state_root):
            if point not in _LIVE:
                _detach(point)
        for entry in state_root.iterdir():
            if entry not in _LIVE and entry.is_dir():
                entry.rmdir()
                reaped.add(entry.name)
    return sorted(reaped)


class _Tail:
    """The last bytes of a stream: bwrap's and the sandbox's stderr, kept for diagnostics."""

    def __init__(self) -> None:
        self._data = bytearray()

    def feed(self, chunk: bytes) -> None:
        self._data += chunk
        del self._data[:-_STDERR_TAIL_BYTES]

    def value(self) -> bytes:
        return bytes(self._data)


@dataclass
class _Launch:
    """A prepared launch: what to exec and the host resources to give back afterwards."""

    argv: list[str]
    cwd: str
    new_session: bool
    cgroup: Cgroup | None = None
    staging: _Staging | None = None
    seccomp_fds: list[int] = field(default_factory=list)  # the filters bwrap loads, ours to close once it started

    def started(self) -> None:
        """The command holds its own copies of the filters' descriptors now."""
        for fd in self.seccomp_fds:
            os.close(fd)
        self.seccomp_fds = []

    def release(self) -> None:
        self.started()
        if self.staging is not None:
            self.staging.release()
        if self.cgroup is not None:
            self.cgroup.destroy()


def _prepare(spec: SandboxSpec, *, cgroups: CgroupDriver | None, state_root: Path, isolation: bool,
             bwrap: str) -> _Launch:
    if not isolation:
        # Ended (SIGTERM: the agent then ends its runtime) when the executor dies, as bwrap's
        # --die-with-parent ends a sandbox: in a session of its own, nothing else would.
        orphan_guard = [SETPRIV, "--pdeathsig", "TERM", "--"] if os.access(SETPRIV, os.X_OK) else []
        return _Launch(argv=[*orphan_guard, *_host_argv(spec)], cwd=str(spec.code_dir), new_session=True)
    if os.geteuid() != 0:
        raise SandboxUnavailable(f"sandboxes need the executor to run as root (it runs as uid {os.geteuid()}); "
                                 "set LAMBENT_SANDBOX=none to run functions unsandboxed instead")
    if cgroups is None:
        raise SandboxUnavailable("sandboxes need cgroups (see cgroups.detect())")
    for tool in (bwrap, SETPRIV):
        if not os.access(tool, os.X_OK):
            raise SandboxUnavailable(f"{tool} is missing: install bubblewrap and util-linux")
    seccomp_fds = _seccomp_fds(bwrap) if spec.seccomp else []
    try:
        staging = _Staging.create(spec, state_root)
    except BaseException:
        for fd in seccomp_fds:
            os.close(fd)
        raise
    launch = _Launch(argv=[], cwd="/", new_session=False, staging=staging, seccomp_fds=seccomp_fds)
    try:
        launch.cgroup = cgroups.create(spec.sandbox_id, memory_mb=spec.memory_mb, pids_max=spec.pids_max)
        launch.argv = _launcher_argv(spec, cgroup=launch.cgroup, staging=staging.path, bwrap=bwrap,
                                     seccomp_fds=seccomp_fds)
    except BaseException:
        launch.release()
        raise
    return launch


def check_seccomp(bwrap: str = BWRAP) -> None:
    """Raise ``SandboxUnavailable`` unless ``bwrap`` can load the seccomp filters and libseccomp can
    build them here (built once per process: ~10 ms)."""
    if "--add-seccomp-fd" not in _bwrap_options(bwrap):
        raise SandboxUnavailable(f"{bwrap} cannot load seccomp filters (--add-seccomp-fd needs bubblewrap 0.5+); "
                                 "set LAMBENT_SECCOMP=unconfined to run sandboxes without them")
    try:
        seccomp.allow_list_program()
        seccomp.guard_program()
    except seccomp.SeccompUnavailable as error:
        raise SandboxUnavailable(f"{error}; or set LAMBENT_SECCOMP=unconfined to run sandboxes without it") from error


def _seccomp_fds(bwrap: str) -> list[int]:
    check_seccomp(bwrap)
    return seccomp.program_fds()


class _SandboxBase(abc.ABC):
    def __init__(self, *, spec: SandboxSpec, launch: _Launch, pid: int, uids: UidPool | None) -> None:
        self.spec = spec
        self.id = spec.sandbox_id
        self.pid = pid
        self.cgroup = launch.cgroup
        self._launch = launch
        self._uids = uids
        self._tail = _Tail()
        self._destroyed = False

    @property
    def stderr(self) -> bytes:
        """The last 64 KiB written to stderr: bwrap's own errors and the sandbox's."""
        return self._tail.value()

    def host_pids(self) -> list[int]:
        """Host pids of every process of the sandbox (bwrap's included)."""
        return self.cgroup.pids() if self.cgroup else []

    def peak_memory_mb(self) -> float | None:
        """The sandbox's peak memory, or None unsandboxed."""
        return self.cgroup.peak_memory_bytes() / (1024 * 1024) if self.cgroup else None

    def oom_kills(self) -> int:
        return self.cgroup.oom_kills() if self.cgroup else 0

    @abc.abstractmethod
    def _kill_process(self) -> None:
        """SIGKILL the process started (bwrap), if not reaped yet."""

    def specialize(self, code_dir: Path, *, memory_mb: int, tmp_mb: int) -> None:
        """Give a generic sandbox its code (read-only at ``/var/task``) and the limits of the
        function it now belongs to, for ever. Takes well under a millisecond: the sandbox,
        its interpreter and its agent were started ahead of demand."""
        staging = self._launch.staging
        if staging is None or self.cgroup is None or self.spec.code_dir is not None:
            raise SandboxError(f"sandbox {self.id} is not a generic sandbox")
        task = staging.path / "task"
        _mount(str(code_dir), task, None, _MS_BIND)
        _mount("none", task, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
        if tmp_mb != self.spec.tmp_mb:
            _mount("lambent-tmp", staging.path / "scratch", None, _MS_REMOUNT | _MS_NOSUID | _MS_NODEV,
                   f"size={tmp_mb}m,nr_inodes={max(4096, tmp_mb * 64)}")
        self.cgroup.set_limits(memory_mb=memory_mb, pids_max=self.spec.pids_max)  # written only if they change

    def kill(self) -> None:
        """SIGKILL the whole tree: the cgroup's every process, then bwrap (unsandboxed: the
        process group; daemons that left it survive)."""
        if self.cgroup is not None:
            self.cgroup.kill()
        with contextlib.suppress(ProcessLookupError):
            if self._launch.new_session:
                os.killpg(self.pid, signal.SIGKILL)
            else:
                self._kill_process()

    def _release(self) -> None:
        self._launch.release()
        if self._uids is not None:
            self._uids.release(self.spec.uid)
        self._destroyed = True


class Sandbox(_SandboxBase):
    """A running sandbox, for synchronous callers. ``stdout`` must be read by the caller."""

    def __init__(self, *, spec: SandboxSpec, launch: _Launch, process: subprocess.Popen[bytes], stderr_fd: int,
                 uids: UidPool | None) -> None:
        super().__init__(spec=spec, launch=launch, pid=process.pid, uids=uids)
        self._process = process
        assert process.stdout is not None
        self.stdout: IO[bytes] = process.stdout
        self._drain = threading.Thread(target=self._drain_stderr, args=(stderr_fd,), daemon=True,
                                       name=f"sandbox-{self.id}-stderr")
        self._drain.start()

    def _drain_stderr(self, fd: int) -> None:
        with open(fd, "rb", buffering=0) as stream:
            while chunk := stream.read(65536):
                self._tail.feed(chunk)

    @property
    def returncode(self) -> int | None:
        return self._process.poll()

    def wait(self, timeout: float | None = None) -> int:
        """bwrap's exit status: the command's, or 128 + signal if a signal killed it."""
        return self._process.wait(timeout)

    def communicate(self, timeout: float | None = None) -> bytes:
        """Read stdout to its end and wait for the exit."""
        return self._process.communicate(timeout=timeout)[0]

    def _kill_process(self) -> None:
        self._process.kill()

    def destroy(self) -> None:
        """Kill, reap, unmount, remove the cgroup and give the uid back. Idempotent."""
        if self._destroyed:
            return
        self.kill()
        self._process.wait()
        self._drain.join(timeout=_DRAIN_SECONDS)
        self.stdout.close()
        self._release()


class AsyncSandbox(_SandboxBase):
    """A running sandbox, for asyncio callers. ``stdout`` must be read by the caller."""

    def __init__(self, *, spec: SandboxSpec, launch: _Launch, process: asyncio.subprocess.Process,
                 uids: UidPool | None) -> None:
        super().__init__(spec=spec, launch=launch, pid=process.pid, uids=uids)
        self._process = process
        assert process.stdout is not None and process.stderr is not None
        self.stdout: asyncio.StreamReader = process.stdout
        self._drain = asyncio.create_task(self._drain_stderr(process.stderr))

    async def _drain_stderr(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self._tail.feed(chunk)

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    async def wait(self) -> int:
        """bwrap's exit status: the command's, or 128 + signal if a signal killed it."""
        return await self._process.wait()

    def _kill_process(self) -> None:
        self._process.kill()

    async def destroy(self) -> None:
        """Kill, reap, unmount, remove the cgroup and give the uid back. Idempotent."""
        if self._destroyed:
            return
        await asyncio.to_thread(self.kill)  # a cgroup kill polls until the cgroup is empty
        await self._process.wait()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drain, timeout=_DRAIN_SECONDS)
        await asyncio.to_thread(self._release)


def launch(spec: SandboxSpec, *, cgroups: CgroupDriver | None, state_root: Path = DEFAULT_STATE_ROOT,
           uids: UidPool | None = None, isolation: bool = True, bwrap: str = BWRAP,
           pass_fds: Sequence[int] = ()) -> Sandbox:
    """Start ``spec`` in a sandbox. ``uids`` is the pool ``spec.uid`` came from, if any:
    ``destroy()`` gives the uid back. ``isolation=False`` is the unsandboxed mode (see above).
    The command inherits ``pass_fds`` at the same numbers; the caller closes its own copies."""
    prepared = _prepare(spec, cgroups=cgroups, state_root=state_root, isolation=isolation, bwrap=bwrap)
    read_fd, write_fd = os.pipe()
    try:
        process = subprocess.Popen(prepared.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=write_fd,
                                   env=ENVIRONMENT, cwd=prepared.cwd, start_new_session=prepared.new_session,
                                   pass_fds=(*prepared.seccomp_fds, *pass_fds))
    except BaseException:
        os.close(read_fd)
        prepared.release()
        raise
    finally:
        os.close(write_fd)
    prepared.started()
    return Sandbox(spec=spec, launch=prepared, process=process, stderr_fd=read_fd, uids=uids)


async def launch_async(spec: SandboxSpec, *, cgroups: CgroupDriver | None, state_root: Path = DEFAULT_STATE_ROOT,
                       uids: UidPool | None = None, isolation: bool = True, bwrap: str = BWRAP,
                       pass_fds: Sequence[int] = ()) -> AsyncSandbox:
    """``launch`` for asyncio callers; the process starts from the event loop's thread."""
    prepared = _prepare(spec, cgroups=cgroups, state_root=state_root, isolation=isolation, bwrap=bwrap)
    try:
        process = await asyncio.create_subprocess_exec(
            *prepared.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=ENVIRONMENT, cwd=prepared.cwd, start_new_session=prepared.new_session,
            pass_fds=(*prepared.seccomp_fds, *pass_fds),
        )
    except BaseException:
        prepared.release()
        raise
    prepared.started()
    return AsyncSandbox(spec=spec, launch=prepared, process=process, uids=uids)
