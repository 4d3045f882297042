"""The memory counters of the agent's own cgroup, for a sandbox whose platform is on another host.

In a pod, the api or worker process that holds the sandbox cannot read the pod's cgroup, so the
agent reads it and puts what it found in each result: ``max_memory_bytes`` (the peak so far) and,
for a runtime that ended under an invocation, ``oom_killed`` (whether the kernel's OOM killer
struck since the invocation began). The files are the kernel's, mounted read-only in the
container: no process of the sandbox can write them, and the agent itself is out of the
function's reach (``hardening``). Both versions of cgroups: v2's unified directory
(``memory.peak``, else ``memory.current``; ``memory.events``) and v1's memory hierarchy
(``memory.max_usage_in_bytes``; ``memory.oom_control``).

The kernel sends the OOM killer's SIGKILL before it counts the kill, so a runtime's end can be seen
before the count: ``oom_killed_since`` waits ``COUNT_WAIT_S`` at most for it, polling.
"""

import posix
import time

V2 = "/sys/fs/cgroup"
V1 = "/sys/fs/cgroup/memory"
COUNT_WAIT_S = 0.25
_POLL_S = 0.005
_READ_BYTES = 4096


class OwnCgroup:
    def __init__(self, *, peak_fd: int, events_fd: int) -> None:
        self._peak_fd = peak_fd
        self._events_fd = events_fd

    @classmethod
    def find(cls, v2: str = V2, v1: str = V1) -> "OwnCgroup | None":
        """The container's own memory cgroup, or None where none is mounted (a local sandbox)."""
        for peak_names, events_name, folder in ((("memory.peak", "memory.current"), "memory.events", v2),
                                                 (("memory.max_usage_in_bytes",), "memory.oom_control", v1)):
            for peak_name in peak_names:
                try:
                    peak_fd = posix.open(f"{folder}/{peak_name}", posix.O_RDONLY | posix.O_CLOEXEC)
                except OSError:
                    continue
                try:
                    events_fd = posix.open(f"{folder}/{events_name}", posix.O_RDONLY | posix.O_CLOEXEC)
                except OSError:
                    posix.close(peak_fd)
                    continue
                return cls(peak_fd=peak_fd, events_fd=events_fd)
        return None

    def peak_bytes(self) -> int:
        try:
            return int(posix.pread(self._peak_fd, _READ_BYTES, 0))
        except (OSError, ValueError):
            return 0

    def oom_kills(self) -> int:
        try:
            text = posix.pread(self._events_fd, _READ_BYTES, 0).decode()
        except OSError:
            return 0
        for line in text.splitlines():
            field, _, value = line.partition(" ")
            if field == "oom_kill":
                return int(value)
        return 0

    def oom_killed_since(self, count: int) -> bool:
        deadline = time.monotonic() + COUNT_WAIT_S
        while self.oom_kills() <= count:
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_S)
        return True

    def close(self) -> None:
        for fd in (self._peak_fd, self._events_fd):
            posix.close(fd)
