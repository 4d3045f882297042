"""Helpers shared by the local backend's tests."""

from pathlib import Path


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process: not gone, not a zombie its new parent has yet to reap."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"
