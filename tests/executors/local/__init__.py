"""Helpers shared by the local backend's tests."""

import asyncio
import inspect
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings

from worker.executors.local.cgroups import DEFAULT_ROOT
from worker.executors.local.sandbox import Sandbox

REPO = Path(__file__).resolve().parents[3]
Start = Callable[..., Sandbox]
#: For scripts run in a sandbox: ``attempt(action)`` is "ok", or the errno's name the action failed with.
ATTEMPT = """
import errno

def attempt(action):
    try:
        action()
        return "ok"
    except OSError as error:
        return errno.errorcode[error.errno]
"""


def report(sandbox: Sandbox) -> dict[str, Any]:
    """The JSON line the sandboxed script printed first."""
    line = sandbox.stdout.readline()
    assert line, f"no output; exit {sandbox.wait(10)}, stderr {sandbox.stderr!r}"
    result: dict[str, Any] = json.loads(line)
    return result


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process: not gone, not a zombie its new parent has yet to reap."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def in_process_parent() -> str:
    """The cgroup parent of the executors tests run in their own process: not the executor process's,
    whose sandboxes (lent to the test process) an executor starting there would reap."""
    return f"{settings.CGROUP_PARENT}-in-process"


def sandbox_pids(*, memory_mb: int, parent_name: str | None = None) -> list[list[int]]:
    """The host pids of each live sandbox whose memory limit is ``memory_mb`` (pick a size no other
    test uses to find a function's sandboxes from outside the executor), by their cgroups, under
    ``parent_name`` (the executor process's by default)."""
    v2 = (DEFAULT_ROOT / "cgroup.controllers").exists()
    name = parent_name or settings.CGROUP_PARENT
    parent = DEFAULT_ROOT / name if v2 else DEFAULT_ROOT / "memory" / name
    limit_file = "memory.max" if v2 else "memory.limit_in_bytes"
    found = []
    for directory in sorted(parent.iterdir()) if parent.is_dir() else []:
        try:
            limit = int((directory / limit_file).read_text())
            pids = [int(pid) for pid in (directory / "cgroup.procs").read_text().split()]
        except (FileNotFoundError, NotADirectoryError, ValueError):
            continue
        if limit == memory_mb * 1024 * 1024 and pids:
            found.append(pids)
    return found


def run_with_executor(scenario, *, code: bytes, **options) -> None:
    """Await ``scenario(executor)`` with a LocalExecutor of a fresh state folder serving ``code``,
    closed and its folder removed afterwards."""
    from worker.executors.local import LocalExecutor
    from worker.executors.local.sandbox import remove_tree

    async def main():
        folder = Path(tempfile.mkdtemp())
        folder.chmod(0o711)
        executor = LocalExecutor(code_source=lambda sha: code, state_dir=folder / "sandboxes",
                                 cgroup_parent=in_process_parent(), **options)
        try:
            await scenario(executor)
        finally:
            await executor.close()
            remove_tree(folder)

    asyncio.run(main())


async def until(condition, timeout: float = 20.0) -> bool:
    """Whether ``condition()`` (a plain or an async function) comes true within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        met = condition()
        if inspect.isawaitable(met):
            met = await met
        if met:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
