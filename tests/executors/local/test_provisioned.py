"""Provisioned sandboxes of the local backend: kept at their count, replaced when they die, never reaped idle."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import uuid
from pathlib import Path

import pytest

from tests.conftest import make_zip
from tests.executors.local import in_process_parent, run_with_executor, running, sandbox_pids, until
from worker.executors import FunctionSpec, FunctionTimeout, InvokeRequest, Provision, Provisioned, SandboxCount
from worker.executors.local import LocalExecutor
from worker.executors.metrics import REGISTRY

pytestmark = pytest.mark.sandbox

CODE = make_zip({"app.py": "import os, time\n"
                           "def handler(event, context):\n    time.sleep(event.get('seconds', 0))\n"
                           "    return os.getpid()\n"})
SHA = hashlib.sha256(CODE).hexdigest()
MEMORY_MB = 333  # no other test's sandboxes have it: they are found by it


def spec(name: str, *, timeout: int = 5) -> FunctionSpec:
    return FunctionSpec(account_id="123456789012", function_name=name, version="1", function_arn="arn",
                        runtime="python3.11", handler="app.handler", memory_size=MEMORY_MB, timeout=timeout,
                        ephemeral_storage=512, code_sha256=SHA, fingerprint=name)


def request(**event: object) -> InvokeRequest:
    import json

    return InvokeRequest(request_id=str(uuid.uuid4()), payload=json.dumps(event).encode(), invoked_function_arn="arn")


def run(scenario, **options):
    run_with_executor(scenario, code=CODE, **options)


def runtime_pid(pids: list[int]) -> int:
    """The function's runtime among a sandbox's processes: a fork of the agent, which bwrap started."""
    def name(pid: int) -> str:
        return Path(f"/proc/{pid}/comm").read_text().strip()

    def parent(pid: int) -> int:
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])

    (pid,) = [pid for pid in pids if name(pid).startswith("python") and name(parent(pid)).startswith("python")]
    return pid


@pytest.mark.parametrize("victim", ["the whole sandbox", "its runtime"])
def test_a_killed_provisioned_sandbox_is_replaced(victim):
    async def scenario(executor: LocalExecutor) -> None:
        function = spec("killed")
        desired = [Provision(spec=function, count=2)]
        assert await executor.provision(desired, wait=30) == {function.key: Provisioned(ready=2)}
        before = sandbox_pids(memory_mb=MEMORY_MB, parent_name=in_process_parent())
        assert len(before) == 2
        doomed = before[0] if victim == "the whole sandbox" else [runtime_pid(before[0])]
        for pid in doomed:
            with contextlib.suppress(ProcessLookupError):  # gone with the one killed before
                os.kill(pid, signal.SIGKILL)

        async def replaced() -> bool:  # the killed one destroyed (its cgroup gone), another ready
            now = sandbox_pids(memory_mb=MEMORY_MB, parent_name=in_process_parent())
            gone = not set(before[0]) & {pid for pids in now for pid in pids}
            return len(now) == 2 and gone and (await executor.provision(desired))[function.key].ready == 2
        assert await until(replaced)
        assert await until(lambda: asyncio.sleep(0, not any(running(pid) for pid in before[0])))
        results = await asyncio.gather(*(executor.invoke(function, request(seconds=0.3)) for _ in range(2)))
        assert [result.init_duration_ms for result in results] == [None, None]

    run(scenario, keep_alive_s=60, generic_pool_size=1)


def test_a_provisioned_sandbox_an_invocation_lost_is_replaced():
    async def scenario(executor: LocalExecutor) -> None:
        function = spec("timeout", timeout=1)
        desired = [Provision(spec=function, count=1)]
        await executor.provision(desired, wait=30)
        with pytest.raises(FunctionTimeout):
            await executor.invoke(function, request(seconds=5))
        assert (await executor.provision(desired, wait=30))[function.key].ready == 1
        assert (await executor.invoke(function, request())).init_duration_ms is None

    run(scenario, keep_alive_s=60, generic_pool_size=0)


def test_provisioned_sandboxes_are_never_reaped_idle():
    async def scenario(executor: LocalExecutor) -> None:
        function = spec("kept")
        await executor.provision([Provision(spec=function, count=1)], wait=30)
        pid = (await executor.invoke(function, request())).payload
        await asyncio.sleep(1.5)  # three keep-alives
        assert await executor.reap_idle() == 0
        again = await executor.invoke(function, request())
        assert (again.payload, again.init_duration_ms) == (pid, None)
        await executor.provision([])  # released: an idle warm sandbox now, reaped after the keep-alive
        assert await until(lambda: asyncio.sleep(0, executor.idle_count(function) == 0), timeout=10)

    run(scenario, keep_alive_s=0.5, generic_pool_size=0)


def test_released_sandboxes_are_reaped_after_the_keep_alive_even_if_nothing_was_invoked():
    async def scenario(executor: LocalExecutor) -> None:
        function = spec("released")
        await executor.provision([Provision(spec=function, count=2)], wait=30)
        assert await executor.provision([Provision(spec=function, count=1)]) == {function.key: Provisioned(ready=1)}
        assert executor.idle_count(function) == 1
        assert await until(lambda: asyncio.sleep(0, executor.idle_count(function) == 0), timeout=10)

    run(scenario, keep_alive_s=0.5, generic_pool_size=0)


def test_census_and_counters():
    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    async def scenario(executor: LocalExecutor) -> None:
        function = spec("counted")
        started = sample("lambent_executor_sandboxes_started_total", kind="provisioned")
        served = sample("lambent_executor_invocations_total", start="provisioned")
        cold = sample("lambent_executor_invocations_total", start="cold")
        await executor.provision([Provision(spec=function, count=1)], wait=30)
        assert SandboxCount("provisioned", "idle", "python3.11", 1) in executor.census()
        assert sample("lambent_executor_sandboxes_started_total", kind="provisioned") == started + 1
        assert sample("lambent_executor_init_duration_seconds_count", kind="provisioned") >= 1
        await asyncio.gather(*(executor.invoke(function, request(seconds=0.3)) for _ in range(2)))
        assert sample("lambent_executor_invocations_total", start="provisioned") == served + 1
        assert sample("lambent_executor_invocations_total", start="cold") == cold + 1
        census = executor.census()
        assert SandboxCount("warm", "idle", "python3.11", 1) in census
        assert SandboxCount("provisioned", "idle", "python3.11", 1) in census

    run(scenario, keep_alive_s=60, generic_pool_size=0)
