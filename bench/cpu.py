"""CPU time of the platform's processes, from ``/proc``: what an invocation costs summed over every
process it touches (api, executor, worker, sandboxes' agents and runtimes, Redis).

A process is named by its role: one of the platform's own processes or a descendant of it (the
worker's prefork children), Redis, or ``sandbox`` for every process of the executor's sandboxes
(bubblewrap, the agent, the runtime it forked: they share a command line, and the split between
them is the agent's business).
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of user and system time) of ``pid``, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def snapshot(roots: dict[str, int]) -> dict[int, tuple[str, float]]:
    """Every live process under ``roots`` (role: pid), by pid: its role and CPU seconds so far."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            stats[int(entry.name)] = stat
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (parent, _) in stats.items():
        children[parent].append(pid)
    found: dict[int, tuple[str, float]] = {}

    def walk(pid: int, role: str) -> None:
        if pid not in stats:
            return
        if role == "executor" and pid != roots.get("executor"):
            role = "sandbox"
        found[pid] = (role, stats[pid][1])
        for child in children.get(pid, []):
            walk(child, role)

    for role, pid in roots.items():
        walk(pid, role)
    return found


def spent(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds spent between two snapshots, by role (a process born meanwhile counts from zero)."""
    by_role: dict[str, float] = defaultdict(float)
    for pid, (role, seconds) in after.items():
        by_role[role] += seconds - before.get(pid, (role, 0.0))[1]
    return dict(by_role)


def thread_seconds(thread_id: int) -> float:
    """CPU seconds of one thread of this process (a floor's server thread)."""
    raw = Path(f"/proc/self/task/{thread_id}/stat").read_text()
    fields = raw[raw.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICKS
