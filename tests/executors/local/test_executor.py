"""The local backend's pools: generic sandboxes ahead of demand, warm ones reaped when idle."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid

import pytest

from tests.conftest import make_zip
from tests.executors.local import run_with_executor, until
from worker.executors import FunctionSpec, InvokeRequest
from worker.executors.local import LocalExecutor
from worker.executors.local import executor as local_executor

pytestmark = pytest.mark.sandbox

CODE = make_zip({"app.py": "import os\ndef handler(event, context):\n    return os.getpid()\n"})
SHA = hashlib.sha256(CODE).hexdigest()


def spec(name: str) -> FunctionSpec:
    return FunctionSpec(account_id="123456789012", function_name=name, version="$LATEST", function_arn="arn",
                        runtime="python3.11", handler="app.handler", memory_size=128, timeout=5,
                        ephemeral_storage=512, code_sha256=SHA, fingerprint=name)


def request() -> InvokeRequest:
    return InvokeRequest(request_id=str(uuid.uuid4()), payload=b"{}", invoked_function_arn="arn")


def run(scenario, **options):
    run_with_executor(scenario, code=CODE, **options)


def test_cold_starts_take_generic_sandboxes_and_the_pool_refills():
    async def scenario(executor: LocalExecutor) -> None:
        first = await executor.invoke(spec("one"), request())
        assert first.init_duration_ms is not None
        assert await until(lambda: executor.generic_count("python3.11") == 2)
        second = await executor.invoke(spec("two"), request())  # specializes a generic sandbox
        assert second.init_duration_ms is not None
        assert executor.generic_count("python3.11") < 2
        assert await until(lambda: executor.generic_count("python3.11") == 2)

    run(scenario, keep_alive_s=60, generic_pool_size=2)


def test_idle_sandboxes_are_reaped_after_the_keep_alive():
    async def scenario(executor: LocalExecutor) -> None:
        function = spec("idle")
        await executor.invoke(function, request())
        assert executor.idle_count(function) == 1
        assert await until(lambda: executor.idle_count(function) == 0, timeout=10)
        assert (await executor.invoke(function, request())).init_duration_ms is not None  # cold again

    run(scenario, keep_alive_s=0.5, generic_pool_size=0)


def test_the_generic_pool_refills_once_the_cold_start_that_emptied_it_is_answered(monkeypatch):
    monkeypatch.setattr(local_executor, "REFILL_YIELD_S", 30.0)
    slow = make_zip({"app.py": "import time\ndef handler(event, context):\n    time.sleep(0.5)\n    return 1\n"})

    async def scenario(executor: LocalExecutor) -> None:
        await executor.invoke(spec("first"), request())
        assert await until(lambda: executor.generic_count("python3.11") == 1)
        invocation = asyncio.ensure_future(executor.invoke(spec("second"), request()))  # takes the generic one
        await asyncio.sleep(0.4)
        assert not invocation.done() and executor.generic_count("python3.11") == 0
        assert (await invocation).init_duration_ms is not None
        assert await until(lambda: executor.generic_count("python3.11") == 1)

    run_with_executor(scenario, code=slow, keep_alive_s=60, generic_pool_size=1)


def test_unsandboxed_sandboxes_run_side_by_side_in_their_code_folder():
    """LAMBENT_SANDBOX=none: each agent serves its runtime on a loopback port of its own (the host's
    loopback is shared), and the runtime starts in the code's own folder."""
    code = make_zip({"app.py": "import os, time\ndef handler(event, context):\n"
                               "    time.sleep(0.3)\n    return [os.getcwd(), sorted(os.listdir('.'))]\n"})

    async def scenario(executor: LocalExecutor) -> None:
        results = await asyncio.gather(*(executor.invoke(spec(f"side-{n}"), request()) for n in range(3)))
        for result in results:
            cwd, files = json.loads(result.payload)
            assert "app.py" in files and cwd.endswith(SHA)  # the code folder of spec()'s package

    run_with_executor(scenario, code=code, keep_alive_s=60, isolation=False)
