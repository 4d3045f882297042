"""Throttling end to end with real sandboxes: a real ``lambent api`` under parallel calls,
and a real worker with asynchronous events."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from threading import Barrier
from typing import Any

import pytest

from lambent.quotas import limits, slots
from tests.invocations.async_helpers import configure, create, invocation, invoke_event, queue_arn, wait_status
from tests.processes import Process, platform_env, start_api, wait_until
from tests.quotas.conftest import reserve

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]

TIMED = ("import time\n\ndef handler(event, context):\n    start = time.time()\n"
         "    time.sleep(event.get('sleep', 0.5))\n    return {'start': start, 'end': time.time()}\n")


@pytest.fixture
def api_process(executor_process) -> Iterator[str]:
    process: Process
    process, base = start_api(platform_env())
    yield base
    process.stop()


def call(base: str, key: str, function: str, event: Any) -> tuple[int, dict[str, str], dict[str, Any]]:
    request = urllib.request.Request(f"{base}/api/v1/functions/{function}/invoke", data=json.dumps(event).encode(),
                                     method="POST", headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, json.loads(exc.read())


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = peak = 0
    for _, step in edges:  # at equal times an end (-1) sorts before a start (+1)
        running += step
        peak = max(peak, running)
    return peak


def test_a_reservation_of_n_holds_under_ten_times_n_parallel_calls(api, tenant, api_process):
    create(api, "timed", TIMED)
    assert reserve(api, "timed", 2).status_code == 200
    credentials = tenant.credentials
    key = f"{credentials.access_key_id}:{credentials.secret_access_key}"
    barrier = Barrier(20)

    def one(_: int) -> tuple[int, dict[str, str], dict[str, Any]]:
        barrier.wait()
        return call(api_process, key, "timed", {"sleep": 0.5})

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(one, range(20)))

    statuses = sorted(status for status, _, _ in answers)
    assert set(statuses) <= {200, 429}, answers
    ran = [(body["start"], body["end"]) for status, _, body in answers if status == 200]
    assert 2 <= len(ran) < 20
    assert most_at_once(ran) <= 2, ran
    for status, headers, body in answers:
        if status == 429:
            assert body["type"] == "TooManyRequestsException"
            assert body["reason"] == limits.RESERVED_LIMIT_EXCEEDED
            assert int(headers["retry-after"]) >= 1
    # The api process gives back the slots it kept once they are idle for a moment.
    assert wait_until(lambda: api.get("/api/v1/account").json()["concurrent_executions_in_use"] == 0,
                      timeout=slots.IDLE_RETURN_SECONDS + 3, what="the kept slots given back")


@pytest.mark.usefixtures("async_platform")
def test_a_reservation_of_zero_sends_events_to_the_dead_letters_without_running(api):
    function = create(api, "off", TIMED)
    dead_letters = queue_arn(api, "dead-letters")
    failures = queue_arn(api, "failures")
    assert api.put("/api/v1/functions/off/dead-letter-config", {"target": dead_letters},
                   format="json").status_code == 200
    configure(api, "off", destination_config={"on_failure": {"destination": failures}})
    assert reserve(api, "off", 0).status_code == 200

    request_id = invoke_event(api, "off", {"order": 7})
    done = wait_status(api, request_id, timeout=30)

    assert done["status"] == "failed" and done["attempts"] == []
    assert done["error_type"] == limits.RESERVED_LIMIT_EXCEEDED and done["executed_version"] == ""
    [message] = wait_until(lambda: receive(api, "dead-letters"), timeout=10, what="the dead letter")
    assert json.loads(message["body"]) == {"order": 7}
    assert message["attributes"]["RequestID"] == request_id
    [record] = wait_until(lambda: receive(api, "failures"), timeout=10, what="the failure record")
    context = json.loads(record["body"])["requestContext"]
    assert context == {"requestId": request_id, "functionArn": f"{function['arn']}:$LATEST",
                       "condition": "RetriesExhausted", "approximateInvokeCount": 0}


@pytest.mark.usefixtures("async_platform")
def test_throttled_events_wait_their_turn_without_using_attempts(api):
    create(api, "timed", TIMED)
    configure(api, "timed", maximum_retry_attempts=0)
    assert reserve(api, "timed", 1).status_code == 200

    request_ids = [invoke_event(api, "timed", {"sleep": 1.0}) for _ in range(3)]
    done = [wait_status(api, request_id, timeout=60) for request_id in request_ids]

    assert [d["status"] for d in done] == ["succeeded"] * 3
    assert [len(d["attempts"]) for d in done] == [1, 1, 1]
    spans = sorted((moment(d["attempts"][0]["started_at"]), moment(d["attempts"][0]["finished_at"])) for d in done)
    for (_, finished), (started, _) in zip(spans, spans[1:], strict=False):
        assert started >= finished, spans
    assert all(invocation(api, d["request_id"])["status"] == "succeeded" for d in done)


def receive(api, queue: str) -> list[dict[str, Any]]:
    response = api.post(f"/api/v1/queues/{queue}/messages/receive", {"max_messages": 10, "visibility_timeout": 600},
                        format="json")
    assert response.status_code == 200, response.content
    return list(response.json()["messages"])


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
