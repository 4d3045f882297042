"""Leases held by other processes, as the api and worker processes hold them: a holder that is
SIGKILLed gives its sandbox back by expiry, and a warm invocation never asks the executor."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.executors.test_contract import HANDLERS, Code, request, served, spec
from worker.executors.client import ExecutorClient
from worker.executors.metrics import REGISTRY

pytestmark = pytest.mark.sandbox

HOLDER = """
import asyncio, json, sys
from worker.executors import FunctionSpec, InvokeRequest
from worker.executors.client import ExecutorClient

async def main():
    client = ExecutorClient(socket_path=sys.argv[1], hold_s=3600)
    spec = FunctionSpec.from_dict(json.loads(sys.argv[2]))
    result = await client.invoke(spec, InvokeRequest(request_id="held", payload=b"{}", invoked_function_arn="arn"))
    print(result.payload.decode(), flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def requests(op: str) -> float:
    return REGISTRY.get_sample_value("lambent_executor_requests_total", {"op": op}) or 0.0


def test_a_sandbox_lent_to_a_process_that_is_sigkilled_serves_again_after_the_lease_expiry():
    async def main() -> None:
        code = Code()
        function = spec(code.add({"app.py": HANDLERS}), "app.count")
        async with served(code, lease_s=1.0) as (local, socket_path):
            holder = await asyncio.create_subprocess_exec(
                sys.executable, "-c", HOLDER, str(socket_path), json.dumps(function.to_dict()),
                stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(Path.cwd())})
            assert holder.stdout is not None
            assert (await asyncio.wait_for(holder.stdout.readline(), 60)).strip() == b"1"
            assert local.lent_count() == 1
            holder.send_signal(signal.SIGKILL)
            await holder.wait()
            killed_at = time.monotonic()
            client = ExecutorClient(socket_path=socket_path)
            try:
                # The killed holder renews nothing: its lease runs out, and the executor takes the
                # sandbox back (revoking the lease at its agent) into the idle pool.
                while local.lent_count() or not local.idle_count(function):
                    assert time.monotonic() - killed_at < 5
                    await asyncio.sleep(0.05)
                assert json.loads((await client.invoke(function, request())).payload) == 2  # the same sandbox, warm
            finally:
                await client.close()

    asyncio.run(main())


def test_warm_invocations_make_no_request_to_the_executor():
    async def main() -> None:
        code = Code()
        function = spec(code.add({"app.py": HANDLERS}), "app.count")
        async with served(code) as (_, socket_path):
            client = ExecutorClient(socket_path=socket_path, hold_s=60)
            try:
                await client.invoke(function, request())  # the cold start borrows
                before = {op: requests(op) for op in ("borrow", "give_back", "renew", "prewarm")}
                results = [json.loads((await client.invoke(function, request())).payload) for _ in range(50)]
                assert results == list(range(2, 52))
                assert {op: requests(op) for op in before} == before
            finally:
                await client.close()

    asyncio.run(main())
