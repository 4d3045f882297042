"""A sandbox's memory counters, read from its cgroup's directory on this host.

What an invocation's max memory and an out-of-memory kill are told by: the kernel's own counters,
which no process of the sandbox can write (``/sys`` is not mounted there). The executor reads them
through its ``Cgroup``; a lease's holder on the same host, through the directory the lease names
(``Endpoint.meter``). Both versions of cgroups: v1's memory hierarchy (``memory.max_usage_in_bytes``,
``memory.oom_control``) and v2's unified directory (``memory.peak``, else ``memory.current``;
``memory.events``).
"""

from __future__ import annotations

import math
from pathlib import Path

MIB = 1024 * 1024


def read_key(path: Path, key: str) -> int:
    """The value of ``key`` in a flat-keyed cgroup file (``memory.events``, ``memory.oom_control``)."""
    for line in path.read_text().splitlines():
        field, _, value = line.partition(" ")
        if field == key:
            return int(value)
    return 0


class Meter:
    """The counters of one memory cgroup directory; without one (an unsandboxed run), zeros."""

    def __init__(self, directory: str | Path | None) -> None:
        self._directory = Path(directory) if directory else None
        self._v1 = self._directory is not None and (self._directory / "memory.max_usage_in_bytes").exists()

    def peak_bytes(self) -> int:
        """The highest memory use seen (v2 without ``memory.peak``: the current use)."""
        if self._directory is None:
            return 0
        if self._v1:
            return int((self._directory / "memory.max_usage_in_bytes").read_text())
        peak = self._directory / "memory.peak"
        return int((peak if peak.exists() else self._directory / "memory.current").read_text())

    def peak_mb(self) -> int:
        """The peak in mebibytes, rounded up, as Lambda reports Max Memory Used; 0 once the cgroup is gone."""
        try:
            return math.ceil(self.peak_bytes() / MIB)
        except (FileNotFoundError, ValueError):
            return 0

    def oom_kills(self) -> int:
        """How many tasks the OOM killer killed in the cgroup so far."""
        if self._directory is None:
            return 0
        try:
            if self._v1:
                return read_key(self._directory / "memory.oom_control", "oom_kill")
            return read_key(self._directory / "memory.events", "oom_kill")
        except (FileNotFoundError, ValueError):
            return 0
