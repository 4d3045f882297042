"""An executor killed with its sandboxes running leaves cgroups and mounts behind; the next
executor of the same installation reaps them at start, and touches no other installation's."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import tempfile
from pathlib import Path

import pytest

from tests.conftest import make_zip
from tests.executors.local import running
from tests.processes import LAMBENT, Process, wait_until
from worker.executors.base import FunctionSpec, InvokeRequest
from worker.executors.client import ExecutorClient
from worker.executors.local.cgroups import DEFAULT_ROOT
from worker.executors.local.sandbox import remove_tree

pytestmark = pytest.mark.sandbox

CODE = make_zip({"app.py": "def handler(event, context):\n    return event\n"})


def cgroups_under(parent: str) -> set[str]:
    v2 = (DEFAULT_ROOT / "cgroup.controllers").exists()
    folder = DEFAULT_ROOT / parent if v2 else DEFAULT_ROOT / "pids" / parent
    return {entry.name for entry in folder.iterdir() if entry.is_dir()} if folder.is_dir() else set()


def pids_in(parent: str, name: str) -> list[int]:
    v2 = (DEFAULT_ROOT / "cgroup.controllers").exists()
    procs = (DEFAULT_ROOT / parent / name if v2 else DEFAULT_ROOT / "pids" / parent / name) / "cgroup.procs"
    try:
        return [int(pid) for pid in procs.read_text().split()]
    except FileNotFoundError:
        return []


def test_a_restarted_executor_reaps_what_a_killed_one_left():
    data_dir = Path(tempfile.mkdtemp(prefix="lambent-restart-"))
    data_dir.chmod(0o711)
    sha = hashlib.sha256(CODE).hexdigest()
    (data_dir / "code" / sha[:2]).mkdir(parents=True)
    (data_dir / "code" / sha[:2] / f"{sha}.zip").write_bytes(CODE)
    parent = f"lambent-restart-{os.getpid()}"
    env = {**os.environ, "LAMBENT_DATA_DIR": str(data_dir), "LAMBENT_CGROUP_PARENT": parent,
           "LAMBENT_EXECUTOR_METRICS_BIND": "none", "LAMBENT_GENERIC_POOL_SIZE": "1"}
    socket_path = data_dir / "executor.sock"
    spec = FunctionSpec(account_id="123456789012", function_name="left", version="1",
                        function_arn="arn:aws:lambda:us-east-1:123456789012:function:left", runtime="python3.11",
                        handler="app.handler", memory_size=128, timeout=3, ephemeral_storage=512, code_sha256=sha,
                        fingerprint="restart")

    async def invoke() -> None:
        client = ExecutorClient(socket_path=socket_path)
        await client.invoke(spec, InvokeRequest(request_id="r1", payload=b"{}", invoked_function_arn=spec.function_arn))
        await client.close()

    first = Process("executor", [LAMBENT, "executor"], env=env)
    wait_until(socket_path.exists, timeout=30, what="the first executor")
    asyncio.run(invoke())
    left = wait_until(lambda: cgroups_under(parent) if len(cgroups_under(parent)) >= 2 else None, timeout=20,
                      what="a warm and a generic sandbox")
    first.kill_group()  # SIGKILL: no chance to clean up
    assert cgroups_under(parent) >= left, "the killed executor's cgroups are still there"

    second = Process("executor", [LAMBENT, "executor"], env=env)
    try:
        second.wait_for("reaped", timeout=30)
        wait_until(lambda: not (left & cgroups_under(parent)), timeout=10, what="the old cgroups to go")
        assert not any(pids_in(parent, name) for name in left)
        assert running(second.pid)
    finally:
        second.signal(signal.SIGTERM)
        second.popen.wait(timeout=30)
    assert not cgroups_under(parent)
    remove_tree(data_dir)
