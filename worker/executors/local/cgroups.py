"""One cgroup per sandbox, on cgroup v1 (hybrid hosts) and cgroup v2 alike.

The cgroup is what bounds a sandbox on the host: its memory (the function's MemorySize, so
going over it is an OOM kill the executor can recognize), its number of tasks (a fork bomb
meets EAGAIN) and its CPU share (proportional to memory, as Lambda allots CPU). It is also
the one complete list of a sandbox's processes, so killing a sandbox means killing its
cgroup, daemonized grandchildren included.

``detect()`` picks the driver from the host: cgroup v2 when ``cgroup.controllers`` sits at
the root of the mount, otherwise v1 with separate ``memory``, ``pids`` and ``cpu``
hierarchies (plus ``freezer`` when mounted). Every sandbox cgroup is a child of one parent
(``lambent`` by default) in each hierarchy, so an executor restarting after a crash finds
the sandboxes its predecessor left behind and reaps them (``reap_all()``). One executor
owns one parent: two executors sharing a parent would reap each other's sandboxes.

CPU share: Lambda gives one vCPU per 1769 MB of memory. v1 ``cpu.shares`` is 1024 per vCPU,
so ``1024 * memory_mb / 1769`` clamped to [2, 262144]; v2 ``cpu.weight`` is 100 per vCPU
(100 is the default weight, as 1024 is the default share), so ``100 * memory_mb / 1769``
clamped to [1, 10000]. Both keep sandboxes' CPU in proportion to their memory when the
host is busy, and neither caps an idle host.

Killing: v2 writes ``cgroup.kill`` when the kernel has it (5.14+), which kills atomically.
Otherwise (v1, old v2) the cgroup is frozen first when a freezer is available, so no task
can fork while the signals go out, then every task gets SIGKILL, then it is thawed (frozen
tasks only die once thawed); without a freezer the SIGKILL sweep repeats until the cgroup
is empty, which ``pids.max`` keeps finite.

Errors::

    CgroupError                 a cgroup operation failed (a write refused, a kill that
    │                           did not empty the cgroup, an rmdir that kept failing)
    └── CgroupUnavailable       no usable cgroup hierarchy on this host, or not writable
"""

from __future__ import annotations

import abc
import errno
import functools
import os
import re
import signal
import time
from pathlib import Path

from worker.executors.meter import Meter

DEFAULT_ROOT = Path("/sys/fs/cgroup")
DEFAULT_PARENT = "lambent"
LAMBDA_MB_PER_VCPU = 1769
V1_HIERARCHIES = ("memory", "pids", "cpu")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_SETTLE_SECONDS = 5.0
_POLL_SECONDS = 0.002

# Cgroup directories created by this process, by path, whatever driver instance made them:
# ``list_orphans`` never counts them, so ``reap_all`` is safe to call at any time.
_OWNED: set[Path] = set()


class CgroupError(Exception):
    """A cgroup operation failed."""


class CgroupUnavailable(CgroupError):
    """This host offers no cgroup hierarchy the executor can use."""


def cpu_shares(memory_mb: int) -> int:
    """v1 ``cpu.shares`` for a sandbox of ``memory_mb``: 1024 per 1769 MB, in [2, 262144]."""
    return min(max(1024 * memory_mb // LAMBDA_MB_PER_VCPU, 2), 262144)


def cpu_weight(memory_mb: int) -> int:
    """v2 ``cpu.weight`` for a sandbox of ``memory_mb``: 100 per 1769 MB, in [1, 10000]."""
    return min(max(round(100 * memory_mb / LAMBDA_MB_PER_VCPU), 1), 10000)


def _check_name(name: str) -> str:
    if not _NAME.match(name):  # one path component, never "." or ".."
        raise ValueError(f"not a valid cgroup name: {name!r}")
    return name


def _write(path: Path, value: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)  # never O_CREAT: a missing file is unsupported
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)
    except OSError as error:
        raise CgroupError(f"cannot write {value!r} to {path}: {error.strerror}") from error


def _read_pids(procs: Path) -> list[int]:
    try:
        return [int(line) for line in procs.read_text().split()]
    except FileNotFoundError:
        return []


def _signal_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Cgroup(abc.ABC):
    """One sandbox's cgroup: one directory per v1 hierarchy, or a single v2 directory."""

    def __init__(self, *, driver: CgroupDriver, name: str, directories: list[Path]) -> None:
        self.name = name
        self.directories = directories
        self._driver = driver
        self.limits: tuple[int, int] | None = None  # (memory_mb, pids_max) as this process last wrote them

    @abc.abstractmethod
    def procs_files(self) -> list[Path]:
        """The ``cgroup.procs`` files a launcher writes its own pid into before it execs."""

    @abc.abstractmethod
    def pids(self) -> list[int]:
        """The processes (thread group ids) in the cgroup now, zombies excluded."""

    @property
    @abc.abstractmethod
    def memory_directory(self) -> Path:
        """The directory of its memory counters (see ``worker.executors.meter``)."""

    @functools.cached_property
    def meter(self) -> Meter:
        return Meter(self.memory_directory)

    def peak_memory_bytes(self) -> int:
        """The highest memory use seen (v2 without ``memory.peak``: the current use)."""
        return self.meter.peak_bytes()

    def oom_kills(self) -> int:
        """How many tasks the OOM killer killed in this cgroup so far."""
        return self.meter.oom_kills()

    @abc.abstractmethod
    def _signal_tasks(self) -> None:
        """Send SIGKILL to every task, as atomically as this kernel allows."""

    def set_limits(self, *, memory_mb: int, pids_max: int) -> None:
        """Change the limits of a live cgroup (a generic sandbox becoming a function's). Limits this
        process wrote already are not written again: a cold start waits for it, and the writes cost
        ~0.35 ms on the v1 dev host."""
        if self.limits != (memory_mb, pids_max):
            self.limits = None  # unknown until every write succeeded
            self._driver._configure(self, memory_mb=memory_mb, pids_max=pids_max)
            self.limits = (memory_mb, pids_max)

    def kill(self) -> None:
        """SIGKILL every process of the cgroup and return once it is empty."""
        deadline = time.monotonic() + _SETTLE_SECONDS
        while self.pids():
            if time.monotonic() > deadline:
                raise CgroupError(f"cgroup {self.name} still has tasks {self.pids()} after SIGKILL")
            self._signal_tasks()
            time.sleep(_POLL_SECONDS)

    def destroy(self) -> None:
        """Kill, then remove the directories. Idempotent."""
        if "meter" in self.__dict__:  # its open counters
            self.meter.close()
        self.kill()
        for directory in self.directories:
            self._driver._remove(directory)


class CgroupDriver(abc.ABC):
    """Creates, finds and reaps the sandbox cgroups under one parent."""

    version: int

    def __init__(self, *, root: Path = DEFAULT_ROOT, parent: str = DEFAULT_PARENT) -> None:
        self.root = root
        self.parent = parent
        self._prepared = False

    @abc.abstractmethod
    def _parents(self) -> list[Path]:
        """The parent directory in each hierarchy; the first one lists the sandbox cgroups."""

    @abc.abstractmethod
    def _open(self, name: str) -> Cgroup:
        """The cgroup ``name`` under the parent, whether or not it exists."""

    @abc.abstractmethod
    def _configure(self, cgroup: Cgroup, *, memory_mb: int, pids_max: int) -> None:
        """Write the limits into a freshly created cgroup."""

    def remove_parents(self, *, attempts: int = 20) -> None:
        """Remove the parent in each hierarchy once no sandbox is left under it (best effort: a
        cgroup whose processes just died can stay busy for a moment, so a few tries)."""
        for parent in reversed(self._parents()):
            for _ in range(attempts):
                try:
                    parent.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)

    def _prepare_parents(self) -> None:
        for parent in self._parents():
            if not parent.is_dir():
                self._make_dir(parent)

    def _make_dir(self, directory: Path) -> None:
        """Filesystem seam: in cgroupfs, mkdir also makes the interface files."""
        directory.mkdir(mode=0o755)

    def _remove_dir(self, directory: Path) -> None:
        """Filesystem seam: in cgroupfs, rmdir removes a directory with its interface files."""
        directory.rmdir()

    def _remove(self, directory: Path) -> None:
        deadline = time.monotonic() + _SETTLE_SECONDS
        while True:
            try:
                self._remove_dir(directory)
                break
            except FileNotFoundError:
                break
            except OSError as error:
                # EBUSY while the killed tasks are still being detached from the cgroup.
                if error.errno != errno.EBUSY or time.monotonic() > deadline:
                    raise CgroupError(f"cannot remove {directory}: {error.strerror}") from error
                time.sleep(_POLL_SECONDS)
        _OWNED.discard(directory)

    def create(self, name: str, *, memory_mb: int, pids_max: int) -> Cgroup:
        """A new cgroup limited to ``memory_mb`` (without swap) and ``pids_max`` tasks, with a CPU
        share proportional to its memory."""
        if memory_mb < 1 or pids_max < 1:
            raise ValueError("memory_mb and pids_max must be positive")
        if not self._prepared:
            self._prepare_parents()
            self._prepared = True
        cgroup = self._open(_check_name(name))
        try:
            for directory in cgroup.directories:
                try:
                    self._make_dir(directory)
                except OSError as error:
                    raise CgroupError(f"cannot create {directory}: {error.strerror}") from error
                _OWNED.add(directory)
            self._configure(cgroup, memory_mb=memory_mb, pids_max=pids_max)
            cgroup.limits = (memory_mb, pids_max)
        except CgroupError:
            for directory in cgroup.directories:
                if directory in _OWNED:
                    self._remove(directory)
            raise
        return cgroup

    def get(self, name: str) -> Cgroup:
        """The cgroup ``name`` under the parent (to inspect or destroy it)."""
        return self._open(_check_name(name))

    def list_orphans(self) -> list[str]:
        """Names of the cgroups under the parent that this process did not create: what a
        previous executor left behind."""
        names: set[str] = set()
        for parent in self._parents():
            if parent.is_dir():
                names.update(entry.name for entry in parent.iterdir() if entry.is_dir() and entry not in _OWNED)
        return sorted(names)

    def reap_all(self) -> list[str]:
        """Kill and remove every orphan; returns their names."""
        orphans = self.list_orphans()
        for name in orphans:
            self._open(name).destroy()
        return orphans


class CgroupV1(Cgroup):
    def __init__(self, *, driver: CgroupDriver, name: str, hierarchies: dict[str, Path]) -> None:
        super().__init__(driver=driver, name=name, directories=list(hierarchies.values()))
        self._hierarchies = hierarchies

    def procs_files(self) -> list[Path]:
        return [directory / "cgroup.procs" for directory in self.directories]

    def pids(self) -> list[int]:
        return _read_pids(self._hierarchies["pids"] / "cgroup.procs")

    @property
    def memory_directory(self) -> Path:
        return self._hierarchies["memory"]

    def _signal_tasks(self) -> None:
        freezer = self._hierarchies.get("freezer")
        if freezer is None or not freezer.is_dir():
            _signal_all(self.pids())
            return
        state = freezer / "freezer.state"
        _write(state, "FROZEN")
        try:
            deadline = time.monotonic() + _SETTLE_SECONDS
            while state.read_text().strip() != "FROZEN" and time.monotonic() < deadline:
                time.sleep(_POLL_SECONDS)
            _signal_all(self.pids())
        finally:
            _write(state, "THAWED")


class CgroupV1Driver(CgroupDriver):
    """cgroup v1: a directory in each of the memory, pids and cpu hierarchies, and in the
    freezer's when it is mounted."""

    version = 1

    def __init__(self, *, root: Path = DEFAULT_ROOT, parent: str = DEFAULT_PARENT) -> None:
        super().__init__(root=root, parent=parent)
        freezer = ["freezer"] if (root / "freezer" / "cgroup.procs").exists() else []
        # pids first: every sandbox cgroup has it, and it is the one that lists them.
        self.hierarchies = ["pids", "memory", "cpu", *freezer]

    def _parents(self) -> list[Path]:
        return [self.root / hierarchy / self.parent for hierarchy in self.hierarchies]

    def _open(self, name: str) -> Cgroup:
        return CgroupV1(driver=self, name=name, hierarchies={
            hierarchy: self.root / hierarchy / self.parent / name for hierarchy in self.hierarchies
        })

    def _configure(self, cgroup: Cgroup, *, memory_mb: int, pids_max: int) -> None:
        memory, pids, cpu = (self.root / hierarchy / self.parent / cgroup.name for hierarchy in V1_HIERARCHIES)
        limit = str(memory_mb * 1024 * 1024)
        files = [memory / "memory.limit_in_bytes"]
        if (memory / "memory.memsw.limit_in_bytes").exists():
            files.append(memory / "memory.memsw.limit_in_bytes")  # swap must not hide an OOM
            # memsw may never be below the memory limit: raise it first, lower it last.
            if int((memory / "memory.limit_in_bytes").read_text()) < int(limit):
                files.reverse()
        for path in files:
            _write(path, limit)
        _write(pids / "pids.max", str(pids_max))
        _write(cpu / "cpu.shares", str(cpu_shares(memory_mb)))


class CgroupV2(Cgroup):
    def procs_files(self) -> list[Path]:
        return [self.directories[0] / "cgroup.procs"]

    def pids(self) -> list[int]:
        return _read_pids(self.directories[0] / "cgroup.procs")

    @property
    def memory_directory(self) -> Path:
        return self.directories[0]

    def _signal_tasks(self) -> None:
        kill_file = self.directories[0] / "cgroup.kill"
        if kill_file.exists():
            _write(kill_file, "1")
        else:
            _signal_all(self.pids())


class CgroupV2Driver(CgroupDriver):
    """cgroup v2: one directory; the controllers are enabled from the root down to the parent."""

    version = 2
    CONTROLLERS = ("cpu", "memory", "pids")

    def _parents(self) -> list[Path]:
        return [self.root / self.parent]

    def _open(self, name: str) -> Cgroup:
        return CgroupV2(driver=self, name=name, directories=[self.root / self.parent / name])

    def _prepare_parents(self) -> None:
        """Enable the controllers in each ``cgroup.subtree_control`` from the root down to the
        parent, so sandbox cgroups get their interface files. Only the root may hold processes
        while doing so (v2's no-internal-process rule answers EBUSY): inside a container with
        its own cgroup namespace, the executor's cgroup must be a delegated, empty subtree."""
        available = set((self.root / "cgroup.controllers").read_text().split())
        missing = set(self.CONTROLLERS) - available
        if missing:
            raise CgroupUnavailable(f"cgroup v2 at {self.root} lacks the controllers {sorted(missing)}")
        directory = self.root
        for part in Path(self.parent).parts:
            self._enable_controllers(directory)
            directory = directory / part
            if not directory.is_dir():
                self._make_dir(directory)
        self._enable_controllers(directory)

    def _enable_controllers(self, directory: Path) -> None:
        enabled = set((directory / "cgroup.subtree_control").read_text().split())
        wanted = " ".join(f"+{name}" for name in self.CONTROLLERS if name not in enabled)
        if wanted:
            _write(directory / "cgroup.subtree_control", wanted)

    def _configure(self, cgroup: Cgroup, *, memory_mb: int, pids_max: int) -> None:
        directory = cgroup.directories[0]
        _write(directory / "memory.max", str(memory_mb * 1024 * 1024))
        if (directory / "memory.swap.max").exists():
            _write(directory / "memory.swap.max", "0")  # swap must not hide an OOM
        _write(directory / "pids.max", str(pids_max))
        _write(directory / "cpu.weight", str(cpu_weight(memory_mb)))


def detect(root: Path = DEFAULT_ROOT, *, parent: str = DEFAULT_PARENT) -> CgroupDriver:
    """The driver for this host's cgroups, or ``CgroupUnavailable`` saying why there is none."""
    driver: CgroupDriver
    if (root / "cgroup.controllers").exists():
        driver, needed = CgroupV2Driver(root=root, parent=parent), [root]
    else:
        driver = CgroupV1Driver(root=root, parent=parent)
        needed = [root / name for name in V1_HIERARCHIES]
        absent = [str(path) for path in needed if not (path / "cgroup.procs").exists()]
        if absent:
            raise CgroupUnavailable(
                f"no cgroup v2 at {root} (no cgroup.controllers) and no cgroup v1 hierarchy at {', '.join(absent)}"
            )
    unwritable = [str(path) for path in needed if not os.access(path, os.W_OK)]
    if unwritable:
        raise CgroupUnavailable(
            f"cgroup v{driver.version} at {', '.join(unwritable)} is not writable by uid {os.geteuid()}: "
            "the local executor must run as root"
        )
    return driver
