"""Invoke through boto3 into real sandboxes: RequestResponse with its log tail, function errors
and client context, DryRun, payload limits, and Event and InvokeAsync observed through the
native invocation ledger."""

from __future__ import annotations

import base64
import json

import pytest

from tests.lambda_api.conftest import code, returning

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("executor_process")]

PROBE = '''
import os

def handler(event, context):
    print("probe saw", event.get("marker"))
    cc = context.client_context
    return {"event": event, "request_id": context.aws_request_id, "arn": context.invoked_function_arn,
            "version": context.function_version, "stage": os.environ.get("STAGE"),
            "custom": cc.custom if cc else None, "env": cc.env if cc else None,
            "installation_id": cc.client.installation_id if cc and cc.client else None}
'''
FAIL = "def handler(event, context):\n    raise ValueError('boom: ' + repr(event))\n"


def invoke(client, name: str, event=None, **params) -> tuple[dict, object]:
    """Invokes and answers the response and the decoded JSON payload."""
    if event is not None:
        params["Payload"] = json.dumps(event).encode()
    response = client.invoke(FunctionName=name, **params)
    raw = response["Payload"].read()
    return response, json.loads(raw) if raw else None


def test_request_response_returns_the_result(account):
    account.create_function("probe", PROBE)

    response, result = invoke(account.client, "probe", {"marker": "m-1"})

    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    assert result["event"] == {"marker": "m-1"}
    assert result["request_id"] == response["ResponseMetadata"]["RequestId"]
    assert result["arn"] == account.arn("probe")
    assert result["version"] == "$LATEST"


def test_log_type_tail_returns_the_end_of_the_log(account):
    account.create_function("probe", PROBE)

    response, _ = invoke(account.client, "probe", {"marker": "tail-4711"}, LogType="Tail")

    log = base64.b64decode(response["LogResult"]).decode()
    assert "probe saw tail-4711" in log
    assert f"REPORT RequestId: {response['ResponseMetadata']['RequestId']}" in log
    plain, _ = invoke(account.client, "probe", {"marker": "quiet"})
    assert "LogResult" not in plain


def test_an_unhandled_error_is_200_with_function_error(account):
    account.create_function("fail", FAIL)

    response, error = invoke(account.client, "fail", {"n": 1}, LogType="Tail")

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "boom: {'n': 1}"
    assert isinstance(error["stackTrace"], list) and error["stackTrace"]
    assert "ValueError" in base64.b64decode(response["LogResult"]).decode()


def test_client_context_reaches_the_handler(account):
    account.create_function("probe", PROBE)
    context = {"custom": {"tenant": "acme"}, "env": {"locale": "en"}, "client": {"installation_id": "inst-1"}}
    encoded = base64.b64encode(json.dumps(context).encode()).decode()

    _, result = invoke(account.client, "probe", {}, ClientContext=encoded)

    assert result.get("custom") == {"tenant": "acme"}, result
    assert result["env"] == {"locale": "en"}
    assert result["installation_id"] == "inst-1"


def test_dry_run_answers_204_without_running(account):
    account.create_function("probe", PROBE)

    response = account.client.invoke(FunctionName="probe", InvocationType="DryRun", Payload=b"{}")

    assert response["StatusCode"] == 204
    assert response["Payload"].read() == b""
    status, listed = account.native("GET", "/api/v1/functions/probe/invocations")
    assert status == 200 and listed["results"] == []


def test_dry_run_of_a_missing_function_is_not_found(account):
    with pytest.raises(account.client.exceptions.ResourceNotFoundException):
        account.client.invoke(FunctionName="nope", InvocationType="DryRun")


def test_invoke_of_a_missing_function_is_not_found(account):
    with pytest.raises(account.client.exceptions.ResourceNotFoundException) as raised:
        account.client.invoke(FunctionName="nope", Payload=b"{}")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_a_payload_over_six_megabytes_is_too_large(account):
    account.create_function("echo")
    payload = json.dumps("x" * (6 * 1024 * 1024)).encode()

    with pytest.raises(account.client.exceptions.RequestTooLargeException) as raised:
        account.client.invoke(FunctionName="echo", Payload=payload)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_an_event_payload_over_the_asynchronous_limit_is_too_large(account):
    account.create_function("echo")
    payload = json.dumps("x" * (1024 * 1024)).encode()

    with pytest.raises(account.client.exceptions.RequestTooLargeException):
        account.client.invoke(FunctionName="echo", InvocationType="Event", Payload=payload)
    status, listed = account.native("GET", "/api/v1/functions/echo/invocations")
    assert status == 200 and listed["results"] == []


def test_configuration_and_code_updates_reach_the_next_invocation(account):
    account.create_function("probe", PROBE)
    account.client.update_function_configuration(FunctionName="probe", Environment={"Variables": {"STAGE": "prod"}})
    _, result = invoke(account.client, "probe", {})
    assert result["stage"] == "prod"

    account.client.update_function_code(FunctionName="probe", ZipFile=code(returning("new code")))
    _, result = invoke(account.client, "probe", {})
    assert result == "new code"


@pytest.mark.usefixtures("async_platform")
def test_event_invocation_is_accepted_then_runs(account):
    account.create_function("probe", PROBE)

    response = account.client.invoke(FunctionName="probe", InvocationType="Event",
                                     Payload=json.dumps({"marker": "async-77"}).encode())

    assert response["StatusCode"] == 202
    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"] == request_id
    done = account.ended_invocation(request_id)
    assert done["status"] == "succeeded", done
    assert done["invocation_type"] == "Event"
    assert done["function_name"] == "probe"
    assert "probe saw async-77" in done["log"]


@pytest.mark.usefixtures("async_platform")
def test_invoke_async_is_accepted_then_runs(account):
    account.create_function("probe", PROBE)

    response = account.client.invoke_async(FunctionName="probe", InvokeArgs=json.dumps({"marker": "old-api"}).encode())

    assert response["Status"] == 202
    done = account.ended_invocation(response["ResponseMetadata"]["RequestId"])
    assert done["status"] == "succeeded", done
    assert "probe saw old-api" in done["log"]


def test_invoke_async_of_a_missing_function_is_not_found(account):
    with pytest.raises(account.client.exceptions.ResourceNotFoundException):
        account.client.invoke_async(FunctionName="nope", InvokeArgs=b"{}")
