"""Billed figures the tenant cannot forge: a runtime that lies, and an agent made to lie, change no bill."""

from __future__ import annotations

import hashlib
import io
import shutil
import stat
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_zip
from tests.executors.local import REPO, run_with_executor
from worker.executors import FunctionSpec, InvokeRequest, InvokeResult, figures
from worker.executors.local import LocalExecutor
from worker.executors.local import executor as local_executor

pytestmark = pytest.mark.sandbox

LYING_RUNTIME = r'''#!/usr/bin/python3
import json, os, signal, time, urllib.request

api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"


def answer(request_id, document):
    request = urllib.request.Request(api + request_id + "/response", data=json.dumps(document).encode(),
                                     headers={"Lambda-Runtime-Duration-Ms": "1", "X-Billed-Duration": "1"})
    urllib.request.urlopen(request).read()


for turn in range(3):
    with urllib.request.urlopen(api + "next") as response:
        request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
    if turn == 0:  # stop the agent's clock, hoard memory, then claim a millisecond
        try:
            os.kill(2, signal.SIGSTOP)
            stopped = "stopped"
        except OSError as error:
            stopped = error.strerror
        hoard = bytearray(96 * 1024 * 1024)
        hoard[::4096] = b"x" * len(hoard[::4096])
        del hoard
        time.sleep(0.3)
        answer(request_id, {"stopped": stopped, "duration_ms": 1, "max_memory_used_mb": 1})
    elif turn == 1:  # answer at once, then keep working before asking for the next event
        answer(request_id, {"duration_ms": 1})
        time.sleep(0.3)
    else:
        answer(request_id, {"duration_ms": 1})
'''


def spec(code: bytes, *, runtime: str = "provided", handler: str = "unused") -> FunctionSpec:
    return FunctionSpec(account_id="123456789012", function_name="liar", version="$LATEST", function_arn="arn",
                        runtime=runtime, handler=handler, memory_size=256, timeout=20, ephemeral_storage=512,
                        code_sha256=hashlib.sha256(code).hexdigest(), fingerprint="liar")


def invocations(code: bytes, count: int, **spec_options: str) -> list[InvokeResult]:
    results: list[InvokeResult] = []

    async def scenario(executor: LocalExecutor) -> None:
        for _ in range(count):
            results.append(await executor.invoke(spec(code, **spec_options), InvokeRequest(
                request_id=str(uuid.uuid4()), payload=b"{}", invoked_function_arn="arn")))

    run_with_executor(scenario, code=code, keep_alive_s=60, generic_pool_size=0)
    return results


def provided(bootstrap: str) -> bytes:
    entry = zipfile.ZipInfo("bootstrap", date_time=(2020, 1, 1, 0, 0, 0))
    entry.external_attr = (stat.S_IFREG | 0o755) << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(entry, bootstrap)
    return buffer.getvalue()


def corrected(figure: str) -> float:
    return figures.CORRECTED.labels(figure)._value.get()


@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="the lying runtime is a /usr/bin/python3 script")
def test_a_runtime_that_lies_is_billed_for_what_the_platform_measured() -> None:
    forged, early, waited = invocations(provided(LYING_RUNTIME), 3)
    assert b'"stopped": "Operation not permitted"' in forged.payload
    assert forged.duration_ms >= 300 and forged.billed_duration_ms >= 300
    assert forged.max_memory_used_mb >= 96  # the cgroup's peak, whatever the runtime claims
    assert early.duration_ms < 100  # answered at once: its time ends with its answer ...
    assert waited.duration_ms >= 300 - figures.SLACK_MS  # ... and what it did after it delays, and bills, the next


@pytest.fixture
def lying_agent(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The sandboxes' runtimes/ with an agent that reports every duration as a microsecond: a stand-in
    for an agent the function would have subverted."""
    copy = Path(tempfile.mkdtemp(prefix="lambent-lying-runtimes-"))
    copy.chmod(0o755)
    shutil.copytree(REPO / "runtimes", copy / "runtimes", ignore=shutil.ignore_patterns("__pycache__"))
    supervisor = copy / "runtimes" / "agent" / "supervisor.py"
    source = supervisor.read_text()
    honest = "return round((time.perf_counter() - start) * 1000, 3)"
    assert honest in source
    supervisor.write_text(source.replace(honest, "return 0.001"))
    monkeypatch.setattr(local_executor, "RUNTIMES_DIR", copy / "runtimes")
    yield
    shutil.rmtree(copy)


def test_an_agent_that_lies_is_held_to_the_executor_s_clock(lying_agent: None) -> None:
    code = make_zip({"app.py": "import time\ndef handler(event, context):\n    time.sleep(0.3)\n    return 'slept'\n"})
    before = corrected("duration")
    cold, warm = invocations(code, 2, runtime="python3.11", handler="app.handler")
    for result in (cold, warm):
        assert result.payload == b'"slept"'
        assert result.duration_ms >= 300 - figures.SLACK_MS  # not the microsecond the agent claimed
    assert corrected("duration") - before == 2


@pytest.mark.parametrize(
    ("reported", "measured", "init", "billed"),
    [
        (12.5, 13.0, None, 12.5),  # honest: the agent's own figure
        (0.001, 300.0, None, 300.0 - figures.SLACK_MS),  # too little: the least the executor allows
        (0.001, 300.0, 250.0, 30.0),  # ... less the init the exchange overlapped
        (9e9, 300.0, None, 300.0),  # too much: never more than the executor measured
        ("soon", 300.0, None, 300.0),  # not a number
        (float("nan"), 300.0, None, 300.0),
    ],
)
def test_durations_are_held_to_the_executor_s_measure(reported: object, measured: float, init: float | None,
                                                      billed: float) -> None:
    assert figures.duration_ms(reported=reported, measured_ms=measured, init_ms=init) == pytest.approx(billed)


def test_init_durations_are_held_to_the_executor_s_measure() -> None:
    assert figures.init_duration_ms(reported=None, measured_ms=50.0) is None
    assert figures.init_duration_ms(reported=20.0, measured_ms=50.0) == 20.0
    assert figures.init_duration_ms(reported=80.0, measured_ms=50.0) == 50.0
    assert figures.init_duration_ms(reported=-1, measured_ms=50.0) == 0.0
