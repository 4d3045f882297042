"""The direct path end to end: a real ``lambent api`` invokes a sandbox it borrowed from a real
executor process straight through the sandbox's agent, and the executor counts what it is asked."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
from django.conf import settings

from tests.conftest import b64, make_zip
from tests.processes import Process, platform_env, start_api

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]

COUNTER = "counter = 0\n\ndef handler(event, context):\n    global counter\n    counter += 1\n    return counter\n"


@pytest.fixture
def api_process(executor_process) -> Iterator[str]:
    process: Process
    process, base = start_api(platform_env(LAMBENT_SANDBOX_HOLD_SECONDS="600"))  # however slow the host
    yield base
    process.stop()


def executor_requests(op: str) -> float:
    """How many ``op`` requests the executor process served, from its own metrics."""
    with urllib.request.urlopen(f"http://{settings.EXECUTOR_METRICS_BIND}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(f'lambent_executor_requests_total{{op="{op}"}}'):
                return float(line.split()[-1])
    return 0.0


def test_a_warm_invocation_makes_no_request_to_the_executor(tenant, create_function, api_process):
    create_function("counted", handler="app.handler", zip_file=b64(make_zip({"app.py": COUNTER})))
    credentials = tenant.credentials
    request = urllib.request.Request(f"{api_process}/api/v1/functions/counted/invoke", data=b"{}", method="POST",
                                     headers={"Authorization": f"Bearer {credentials.access_key_id}:"
                                                               f"{credentials.secret_access_key}"})

    def invoke() -> object:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    assert invoke() == 1  # the cold start: the api borrows a sandbox
    before = {op: executor_requests(op) for op in ("borrow", "give_back", "prewarm", "evict", "provision")}
    assert before["borrow"] >= 1
    assert [invoke() for _ in range(50)] == list(range(2, 52))  # the same sandbox, kept by the api
    assert {op: executor_requests(op) for op in before} == before
