"""A sandbox's memory counters, read from its cgroup's directory on this host.

What an invocation's max memory and an out-of-memory kill are told by: the kernel's own counters,
which no process of the sandbox can write (``/sys`` is not mounted there). The executor reads them
through its ``Cgroup``; a lease's holder on the same host, through the directory the lease names
(``Endpoint.meter``). Both versions of cgroups: v1's memory hierarchy (``memory.max_usage_in_bytes``,
``memory.oom_control``) and v2's unified directory (``memory.peak``, else ``memory.current``;
``memory.events``).

The two files are opened once and read again with ``pread`` at offset 0, which cgroup files answer
afresh: an open, a read and a close of each, twice per invocation, were a fifth of a warm
invocation's CPU in the api process. Once the cgroup is removed, reads fail and count as zero.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

MIB = 1024 * 1024
_READ_BYTES = 4096


def read_key(text: str, key: str) -> int:
    """The value of ``key`` in a flat-keyed cgroup file's text (``memory.events``, ``memory.oom_control``)."""
    for line in text.splitlines():
        field, _, value = line.partition(" ")
        if field == key:
            return int(value)
    return 0


class Meter:
    """The counters of one memory cgroup directory; without one (an unsandboxed run), zeros."""

    def __init__(self, directory: str | Path | None) -> None:
        self._directory = Path(directory) if directory else None
        self._fds: dict[str, int] = {}
        self._v1 = self._directory is not None and (self._directory / "memory.max_usage_in_bytes").exists()

    def _read(self, *names: str) -> str:
        """The text of the first of ``names`` that exists in the directory ('' without one)."""
        assert self._directory is not None
        for name in names:
            fd = self._fds.get(name)
            if fd is None:
                try:
                    fd = self._fds[name] = os.open(self._directory / name, os.O_RDONLY | os.O_CLOEXEC)
                except FileNotFoundError:
                    continue
            return os.pread(fd, _READ_BYTES, 0).decode()
        raise FileNotFoundError(f"none of {names} in {self._directory}")

    @property
    def measures(self) -> bool:
        """Whether there is a cgroup to read (without one, every counter reads zero)."""
        return self._directory is not None

    def peak_bytes(self) -> int:
        """The highest memory use seen (v2 without ``memory.peak``: the current use)."""
        if self._directory is None:
            return 0
        if self._v1:
            return int(self._read("memory.max_usage_in_bytes"))
        return int(self._read("memory.peak", "memory.current"))

    def peak_mb(self) -> int:
        """The peak in mebibytes, rounded up, as Lambda reports Max Memory Used; 0 once the cgroup is gone."""
        try:
            return math.ceil(self.peak_bytes() / MIB)
        except (OSError, ValueError):
            return 0

    def oom_kills(self) -> int:
        """How many tasks the OOM killer killed in the cgroup so far."""
        if self._directory is None:
            return 0
        try:
            return read_key(self._read("memory.oom_control" if self._v1 else "memory.events"), "oom_kill")
        except (OSError, ValueError):
            return 0

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
