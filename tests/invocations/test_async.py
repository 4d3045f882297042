"""Asynchronous invocations end to end: real ``lambent worker`` and ``lambent beat`` processes,
the real broker, real sandboxes; retries, event age, destinations, cancel and redrive."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from lambent.celery import app
from lambent.invocations import destinations, outbox
from lambent.invocations.models import Invocation
from tests.conftest import b64, make_zip
from tests.invocations.async_helpers import (
    ECHO,
    FAIL,
    configure,
    create,
    invocation,
    invoke_event,
    queue_arn,
    receive_all,
    records,
    wait_status,
)
from tests.processes import free_port, wait_until

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("async_platform")]

RETRY_DELAYS = (1.0, 2.0)  # tests.processes.FAST_ASYNC


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_success_lands_once_in_the_on_success_destination(api):
    function = create(api, "echo")
    destination = queue_arn(api, "successes")
    configure(api, "echo", destination_config={"on_success": {"destination": destination}})

    request_id = invoke_event(api, "echo", {"order": 42})
    done = wait_status(api, request_id)

    assert done["status"] == "succeeded"
    assert [a["outcome"] for a in done["attempts"]] == ["succeeded"]
    assert done["attempts"][0]["log"].startswith(f"START RequestId: {request_id}")
    [record] = wait_until(lambda: records(api, "successes"), timeout=10, what="the success record")
    assert record["version"] == "1.0"
    assert record["requestContext"] == {"requestId": request_id, "functionArn": f"{function['arn']}:$LATEST",
                                        "condition": "Success", "approximateInvokeCount": 1}
    assert record["requestPayload"] == {"order": 42}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"order": 42}
    assert moment(record["timestamp"]) >= moment(done["finished_at"]) - timedelta(seconds=1)


@pytest.mark.parametrize("retries", [0, 1, 2])
def test_retries_give_one_attempt_more_than_allowed_with_the_backoff(api, retries):
    function = create(api, "fails", FAIL)
    failures = queue_arn(api, "failures")
    configure(api, "fails", maximum_retry_attempts=retries,
              destination_config={"on_failure": {"destination": failures}})

    request_id = invoke_event(api, "fails", {"n": retries})
    done = wait_status(api, request_id, "failed", timeout=30)

    attempts = done["attempts"]
    assert [a["outcome"] for a in attempts] == ["function_error"] * (retries + 1)
    for before, after, delay in zip(attempts, attempts[1:], RETRY_DELAYS, strict=False):
        assert (moment(after["started_at"]) - moment(before["finished_at"])).total_seconds() >= delay - 0.01
    time.sleep(RETRY_DELAYS[-1] + 0.5)  # nothing more runs, nothing more lands
    assert len(invocation(api, request_id)["attempts"]) == retries + 1
    [record] = records(api, "failures")
    assert record["requestContext"] == {"requestId": request_id, "functionArn": f"{function['arn']}:$LATEST",
                                        "condition": "RetriesExhausted", "approximateInvokeCount": retries + 1}
    assert record["requestPayload"] == {"n": retries}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                         "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["errorMessage"] == f"boom: {{'n': {retries}}}"


def test_dead_letter_target_receives_the_event_with_its_error(api):
    create(api, "fails", FAIL)
    dead_letters = queue_arn(api, "dead-letters")
    assert api.put("/api/v1/functions/fails/dead-letter-config", {"target": dead_letters},
                   format="json").status_code == 200
    configure(api, "fails", maximum_retry_attempts=0)

    request_id = invoke_event(api, "fails", {"lost": True})
    wait_status(api, request_id, "failed")

    [message] = wait_until(lambda: receive_all(api, "dead-letters"), timeout=10, what="the dead letter")
    assert json.loads(message["body"]) == {"lost": True}
    assert message["attributes"] == {"RequestID": request_id, "ErrorCode": "200",
                                     "ErrorMessage": "boom: {'lost': True}"}


def test_an_event_past_its_age_expires_and_never_runs_again(api):
    function = create(api, "fails", FAIL)
    failures = queue_arn(api, "failures")
    configure(api, "fails", maximum_retry_attempts=2, maximum_event_age_seconds=60,
              destination_config={"on_failure": {"destination": failures}})

    request_id = invoke_event(api, "fails", {"old": True})
    retrying = wait_status(api, request_id, "retrying")
    assert retrying["expires_at"] is not None
    # The database is the worker's clock: move the event's expiry to now instead of waiting a minute.
    Invocation.objects.filter(request_id=request_id).update(expires_at=timezone.now())
    expired = wait_status(api, request_id, "expired", timeout=10)

    assert expired["error_type"] == "EventAgeExceeded"
    time.sleep(RETRY_DELAYS[1] + 0.5)
    assert len(invocation(api, request_id)["attempts"]) == 1
    [record] = records(api, "failures")
    assert record["requestContext"] == {"requestId": request_id, "functionArn": f"{function['arn']}:$LATEST",
                                        "condition": "EventAgeExceeded", "approximateInvokeCount": 1}


def test_cancel_stops_a_retrying_invocation(api):
    create(api, "fails", FAIL)
    failures = queue_arn(api, "failures")
    configure(api, "fails", destination_config={"on_failure": {"destination": failures}})
    request_id = invoke_event(api, "fails", {})
    wait_status(api, request_id, "retrying")

    cancelled = api.post(f"/api/v1/invocations/{request_id}/cancel")

    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["status"] == "cancelled"
    time.sleep(RETRY_DELAYS[0] + 1.0)
    after = invocation(api, request_id)
    assert after["status"] == "cancelled" and len(after["attempts"]) == 1
    assert records(api, "failures") == []
    again = api.post(f"/api/v1/invocations/{request_id}/cancel")
    assert again.status_code == 409 and "cancelled" in again.json()["message"]


def test_redrive_runs_a_failed_invocation_again_on_another_version(api):
    create(api, "flaky", FAIL, publish=True)  # version 1 fails
    working = {"zip_file": b64(make_zip({"app.py": ECHO}))}
    assert api.put("/api/v1/functions/flaky/code", working, format="json").status_code == 200
    assert api.post("/api/v1/functions/flaky/versions", {}, format="json").status_code == 201  # version 2 works
    configure(api, "flaky", qualifier="1", maximum_retry_attempts=0)
    request_id = invoke_event(api, "flaky", {"x": 1}, qualifier="1")
    failed = wait_status(api, request_id, "failed")
    assert failed["executed_version"] == "1"

    redriven = api.post(f"/api/v1/invocations/{request_id}/redrive", {"qualifier": "2"}, format="json")

    assert redriven.status_code == 202, redriven.content
    done = wait_status(api, request_id, "succeeded")
    assert done["executed_version"] == "2" and done["qualifier"] == "2" and done["redrive_count"] == 1
    assert [(a["outcome"], a["executed_version"]) for a in done["attempts"]] == [
        ("function_error", "1"), ("succeeded", "2")]
    assert api.post(f"/api/v1/invocations/{request_id}/redrive", {}, format="json").status_code == 409


def test_a_function_destination_is_invoked_asynchronously_with_the_record(api):
    function = create(api, "source")
    create(api, "sink")
    sink_arn = function["arn"].replace(":source", ":sink")
    configure(api, "source", destination_config={"on_success": {"destination": sink_arn}})
    request_id = invoke_event(api, "source", {"hello": "sink"})
    wait_status(api, request_id, "succeeded")

    def sink_invocations() -> list[dict[str, Any]]:
        found = api.get("/api/v1/functions/sink/invocations").json()["results"]
        return found if found and found[0]["status"] == "succeeded" else []
    [sink] = wait_until(sink_invocations, timeout=20, what="the sink's invocation")
    assert sink["invocation_type"] == "Event"
    event = json.loads(bytes(Invocation.objects.get(request_id=sink["request_id"]).payload))
    assert event["requestContext"]["requestId"] == request_id
    assert event["requestContext"]["condition"] == "Success"
    assert event["responsePayload"] == {"hello": "sink"}


def test_a_function_that_is_its_own_destination_is_stopped_after_the_recursion_limit(api):
    function = create(api, "loop", "def handler(event, context):\n    return {'ok': True}\n")
    queue = queue_arn(api, "stopped")
    configure(api, "loop", destination_config={"on_success": {"destination": function["arn"]},
                                               "on_failure": {"destination": queue}})
    invoke_event(api, "loop", {"round": 0})

    def stopped() -> list[Invocation]:
        return list(Invocation.objects.filter(function_name="loop", error_type="RecursiveInvocationException"))
    [last] = wait_until(stopped, timeout=60, what="the loop to be stopped")
    time.sleep(1)  # nothing continues it

    chain = Invocation.objects.filter(function_name="loop")
    assert chain.count() == destinations.RECURSION_LIMIT + 1
    assert sorted(chain.values_list("chain_depth", flat=True)) == list(range(destinations.RECURSION_LIMIT + 1))
    assert chain.filter(status="succeeded").count() == destinations.RECURSION_LIMIT
    assert last.status == "failed" and last.attempt_count == 0  # the stopped one never ran
    [record] = records(api, "stopped")
    assert record["requestContext"]["requestId"] == str(last.request_id)
    assert record["requestContext"]["condition"] == "RetriesExhausted"

    # Redriven by the tenant, the stopped invocation runs: the chain starts afresh.
    configure(api, "loop", destination_config={})
    assert api.post(f"/api/v1/invocations/{last.request_id}/redrive", {}, format="json").status_code == 202
    assert wait_status(api, str(last.request_id), "succeeded")["attempts"]


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    _Receiver.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver.received
    server.shutdown()


def test_a_webhook_destination_receives_the_failure_record(api, webhook):
    url, received = webhook
    create(api, "fails", FAIL)
    configure(api, "fails", maximum_retry_attempts=0, destination_config={"on_failure": {"destination": url}})

    request_id = invoke_event(api, "fails", {"hook": 1})
    wait_status(api, request_id, "failed")

    wait_until(lambda: received, timeout=15, what="the webhook call")
    time.sleep(1)
    [(headers, body)] = received
    assert headers["Content-Type"] == "application/json" and headers["X-Lambent-Delivery-Id"]
    record = json.loads(body)
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"


def test_a_duplicated_message_runs_the_attempt_once(api):
    create(api, "slow")
    request_id = invoke_event(api, "slow", {"sleep": 0.5})
    for _ in range(3):  # the broker delivers the same message again, to both worker processes
        app.send_task(outbox.RUN_INVOCATION, args=[request_id])

    done = wait_status(api, request_id, "succeeded")
    time.sleep(1)
    assert [a["outcome"] for a in invocation(api, request_id)["attempts"]] == ["succeeded"]
    assert done["attempt_count"] == 1


def test_a_stored_package_that_will_not_unpack_fails_as_the_function_s_error_using_its_retries(api):
    """A package stored before the archive limits existed: each attempt is a function error (counted,
    retried as Lambda retries them), never a platform error retried without end."""
    import io

    from lambent.functions.code_packages import code_storage
    from lambent.functions.models import Version
    from tests.conftest import lying_zip

    create(api, "lying", "def handler(event, context):\n    return 'lies'\n")  # code no other test stores
    artifact = Version.objects.get(function__name="lying").code
    code_storage().delete(artifact.storage_name)
    code_storage().save(artifact.storage_name, io.BytesIO(lying_zip()))
    configure(api, "lying", maximum_retry_attempts=1)

    done = wait_status(api, invoke_event(api, "lying", {}), timeout=60)

    assert done["status"] == "failed"
    assert [a["outcome"] for a in done["attempts"]] == ["function_error", "function_error"]
    assert {a["error_type"] for a in done["attempts"]} == {"Runtime.InvalidZipFile"}


def test_a_message_naming_a_batch_runs_each_of_its_events_once(api, tenant):
    from lambent import broker
    from lambent.functions.models import Function
    from lambent.invocations import asynchronous

    create(api, "batched")
    function = Function.objects.get(name="batched")
    request_ids = [str(asynchronous.enqueue(tenant=tenant.tenant, function=function, qualifier=None,
                                            payload=json.dumps({"n": n}).encode(), publish_after_commit=False)
                       .request_id) for n in range(5)]
    broker.publish(task=outbox.RUN_INVOCATION, args=request_ids)  # as the api sends what it accepted together
    broker.publish(task=outbox.RUN_INVOCATION, args=request_ids[2:])  # and a copy: harmless

    for number, request_id in enumerate(request_ids):
        done = wait_status(api, request_id, "succeeded")
        assert json.loads(bytes(Invocation.objects.get(request_id=request_id).response)) == {"n": number}
        assert [a["outcome"] for a in done["attempts"]] == ["succeeded"]
