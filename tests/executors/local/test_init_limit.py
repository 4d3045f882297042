"""The init phase's own limit, as Lambda's: a cold start's init may take the executor's init limit
(10 s; 1 s here) apart from the function's timeout; past it, init is tried once more within the
invocation, under the function's timeout (Lambda's suppressed init), and reported as Lambda does."""

from __future__ import annotations

import hashlib
import json
import time
import uuid

import pytest

from tests.conftest import make_zip
from tests.executors.local import run_with_executor
from worker.executors import FunctionSpec, FunctionTimeout, InvokeRequest

pytestmark = pytest.mark.sandbox

CODE = make_zip({"app.py": "import os, time\ntime.sleep(float(os.environ['INIT_SECONDS']))\n"
                           "def handler(event, context):\n    return context.get_remaining_time_in_millis()\n"})
SHA = hashlib.sha256(CODE).hexdigest()
LIMIT_S = 1.0


def spec(*, init_seconds: float, timeout: int) -> FunctionSpec:
    return FunctionSpec(account_id="123456789012", function_name=f"init-{init_seconds}-{timeout}", version="1",
                        function_arn="arn", runtime="python3.11", handler="app.handler", memory_size=128,
                        timeout=timeout, ephemeral_storage=512, code_sha256=SHA,
                        fingerprint=f"{init_seconds}-{timeout}", environment={"INIT_SECONDS": str(init_seconds)})


def request() -> InvokeRequest:
    return InvokeRequest(request_id=str(uuid.uuid4()), payload=b"{}", invoked_function_arn="arn")


def test_init_within_its_limit_does_not_eat_the_function_s_timeout() -> None:
    async def scenario(executor):
        result = await executor.invoke(spec(init_seconds=0.6, timeout=1), request())
        assert result.init_duration_ms is not None and result.init_duration_ms >= 600
        assert json.loads(result.payload) > 800  # the whole second is the invocation's
        assert "INIT_REPORT" not in result.log
    run_with_executor(scenario, code=CODE, init_timeout_s=LIMIT_S, generic_pool_size=0, keep_alive_s=60)


def test_an_init_past_its_limit_is_run_again_within_the_function_s_timeout() -> None:
    async def scenario(executor):
        result = await executor.invoke(spec(init_seconds=1.5, timeout=4), request())
        assert result.log.startswith("INIT_REPORT Init Duration: 1000.00 ms\tPhase: init\tStatus: timeout\n")
        assert result.init_duration_ms is not None and result.init_duration_ms >= 1500
        warm = await executor.invoke(spec(init_seconds=1.5, timeout=4), request())
        assert warm.init_duration_ms is None and "INIT_REPORT" not in warm.log
    run_with_executor(scenario, code=CODE, init_timeout_s=LIMIT_S, generic_pool_size=0, keep_alive_s=60)


def test_a_lease_s_suppressed_init_is_reported_by_its_holder_s_first_invocation() -> None:
    async def scenario(executor):
        function = spec(init_seconds=1.5, timeout=4)
        lease = await executor.borrow(function)  # the cold start: init past its limit, then begun again
        link = await executor.connect(lease, function)
        result = await link.invoke(request())
        assert result.log.startswith("INIT_REPORT Init Duration: 1000.00 ms\tPhase: init\tStatus: timeout\n")
        assert result.init_duration_ms is not None and result.init_duration_ms >= 1500
        warm = await link.invoke(request())
        assert warm.init_duration_ms is None and "INIT_REPORT" not in warm.log
        link.close()
    run_with_executor(scenario, code=CODE, init_timeout_s=LIMIT_S, generic_pool_size=0, keep_alive_s=60)


def test_an_init_that_cannot_finish_in_either_is_lambda_s_init_timeout() -> None:
    async def scenario(executor):
        started = time.monotonic()
        with pytest.raises(FunctionTimeout) as raised:
            await executor.invoke(spec(init_seconds=30, timeout=1), request())
        assert time.monotonic() - started < LIMIT_S + 1 + 5
        error = json.loads(raised.value.result.payload)
        assert error["errorType"] == "Sandbox.Timedout"
        assert error["errorMessage"].endswith("Task timed out after 1.00 seconds")
        assert raised.value.result.log.startswith("INIT_REPORT Init Duration: 1000.00 ms\tPhase: init\tStatus: timeout")
    run_with_executor(scenario, code=CODE, init_timeout_s=LIMIT_S, generic_pool_size=0, keep_alive_s=60)
