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


def requests(metrics_url: str, name: str, op: str) -> float:
    """The ``name{op=...}`` counter of the metrics at ``metrics_url``."""
    with urllib.request.urlopen(metrics_url, timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(f'{name}{{op="{op}"}}'):
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

    def sent() -> dict[str, float]:
        """What this api process asked of the executor, by operation."""
        return {op: requests(f"{api_process}/metrics", "lambent_executor_calls_total", op)
                for op in ("borrow", "give_back", "renew", "prewarm", "evict", "provision")}

    before = sent()
    assert before["borrow"] == 1  # the cold start's, which the executor served:
    assert requests(f"http://{settings.EXECUTOR_METRICS_BIND}/metrics", "lambent_executor_requests_total", "borrow")
    assert [invoke() for _ in range(50)] == list(range(2, 52))  # the same sandbox, kept by the api
    after = sent()
    assert after.pop("renew") - before.pop("renew") <= 5  # by time, not by invocation: every 3.3 s
    assert after == before
