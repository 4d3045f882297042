"""Synchronous invoke through the native API, on the in-memory executor: the HTTP contract,
qualifiers, the ledger. Real sandboxes run the same paths in tests/executors."""

import base64
import json
from collections import Counter

import pytest

from lambent.invocations.models import Invocation
from tests.conftest import b64, make_zip

HANDLERS = """
import json, os, time
counter = 0

def echo(event, context):
    return event

def count(event, context):
    global counter
    counter += 1
    return counter

def fail(event, context):
    print("about to fail")
    raise ValueError("boom")

def slow(event, context):
    time.sleep(event.get("sleep", 5))
    return "late"

def context_fields(event, context):
    return {"request_id": context.aws_request_id, "arn": context.invoked_function_arn,
            "version": context.function_version, "memory": context.memory_limit_in_mb}

def big(event, context):
    return "x" * (7 * 1024 * 1024)
"""


@pytest.fixture
def function(api, create_function, fake_executor):
    def make(handler="echo", **overrides):
        name = overrides.pop("name", handler.replace("_", "-"))
        create_function(name, handler=f"app.{handler}", zip_file=b64(make_zip({"app.py": HANDLERS})), **overrides)
        return name
    return make


def invoke(api, name, payload=None, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    body = json.dumps(payload if payload is not None else {}).encode()
    return api.generic("POST", f"/api/v1/functions/{name}/invoke?{query}", body, content_type="application/json")


def test_result_round_trips_and_is_recorded(api, function, tenant):
    name = function("echo")
    response = invoke(api, name, {"hello": ["world", 1]})
    assert response.status_code == 200
    assert json.loads(response.content) == {"hello": ["world", 1]}
    assert response["X-Lambent-Executed-Version"] == "$LATEST"
    assert "X-Lambent-Function-Error" not in response
    invocation = Invocation.objects.get(request_id=response["X-Lambent-Request-Id"])
    assert invocation.status == "succeeded"
    assert invocation.tenant == tenant.tenant
    assert invocation.invocation_type == "RequestResponse"
    assert invocation.billed_duration_ms >= 1
    assert invocation.init_duration_ms is not None


def test_function_error_is_200_with_error_header_and_lambdas_error_json(api, function):
    name = function("fail")
    response = invoke(api, name, log="tail")
    assert response.status_code == 200
    assert response["X-Lambent-Function-Error"] == "Unhandled"
    error = json.loads(response.content)
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "boom")
    log = base64.b64decode(response["X-Lambent-Log-Result"]).decode()
    assert "about to fail" in log and "REPORT RequestId:" in log
    invocation = Invocation.objects.get(request_id=response["X-Lambent-Request-Id"])
    assert (invocation.status, invocation.error_type, invocation.error_message) == ("failed", "ValueError", "boom")


def test_timeout_is_an_unhandled_error(api, function):
    name = function("slow", timeout=1)
    response = invoke(api, name, {"sleep": 3})
    assert response["X-Lambent-Function-Error"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in json.loads(response.content)["errorMessage"]


def test_log_tail_has_lambdas_lines(api, function):
    name = function("echo")
    response = invoke(api, name, log="tail")
    log = base64.b64decode(response["X-Lambent-Log-Result"]).decode()
    request_id = response["X-Lambent-Request-Id"]
    assert log.startswith(f"START RequestId: {request_id} Version: $LATEST\n")
    assert f"END RequestId: {request_id}\n" in log
    assert f"REPORT RequestId: {request_id}\tDuration: " in log
    assert "\tBilled Duration: " in log and "\tMemory Size: 128 MB\t" in log and "Init Duration: " in log
    assert "Init Duration" not in base64.b64decode(invoke(api, name, log="tail")["X-Lambent-Log-Result"]).decode()


def test_qualifiers_resolve_versions_and_aliases(api, function):
    name = function("context_fields")
    api.post(f"/api/v1/functions/{name}/versions", format="json")
    api.post(f"/api/v1/functions/{name}/aliases", {"name": "live", "function_version": "1"}, format="json")
    for qualifier, executed in [("1", "1"), ("live", "1"), ("$LATEST", "$LATEST")]:
        response = invoke(api, name, qualifier=qualifier)
        assert response["X-Lambent-Executed-Version"] == executed
        assert json.loads(response.content)["arn"].endswith(f":function:{name}:{qualifier}")
        assert json.loads(response.content)["version"] == executed
    unqualified = json.loads(invoke(api, name).content)
    assert unqualified["arn"].endswith(f":function:{name}")
    assert unqualified["request_id"] and unqualified["memory"] == 128


def test_weighted_alias_routes_by_weight(api, function):
    name = function("echo")
    api.post(f"/api/v1/functions/{name}/versions", format="json")
    api.patch(f"/api/v1/functions/{name}", {"timeout": 4}, format="json")
    api.post(f"/api/v1/functions/{name}/versions", format="json")
    api.post(f"/api/v1/functions/{name}/aliases",
             {"name": "canary", "function_version": "1", "additional_version_weights": {"2": 0.3}}, format="json")
    counts = Counter(invoke(api, name, qualifier="canary")["X-Lambent-Executed-Version"] for _ in range(300))
    # 300 draws at p=0.3: mean 90, sd ~7.9; these bounds fail with probability < 1e-5.
    assert 55 <= counts["2"] <= 125, counts
    assert counts["1"] + counts["2"] == 300


@pytest.mark.parametrize("qualifier", ["7", "nope"])
def test_unknown_qualifier_is_404(api, function, qualifier):
    name = function("echo")
    response = invoke(api, name, qualifier=qualifier)
    assert response.status_code == 404
    assert not Invocation.objects.exists()


def test_unknown_function_is_404(api, fake_executor):
    assert invoke(api, "nope").status_code == 404


def test_payload_over_6_mb_is_413_and_not_recorded(api, function):
    name = function("echo")
    body = b'"' + b"x" * (6 * 1024 * 1024) + b'"'
    response = api.generic("POST", f"/api/v1/functions/{name}/invoke", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["type"] == "RequestTooLargeException"
    assert not Invocation.objects.exists()


def test_payload_that_is_not_json_is_400(api, function):
    name = function("echo")
    response = api.generic("POST", f"/api/v1/functions/{name}/invoke", b"{not json", content_type="text/plain")
    assert response.status_code == 400
    assert not Invocation.objects.exists()


@pytest.mark.parametrize("kind", ["RequestResponse", "Event", "DryRun"])
@pytest.mark.parametrize("context", ['u+w3"', "bm90IGpzb24=", "WzFd", "e30" * 1200])
def test_a_client_context_that_is_not_base64_of_a_json_object_is_400_and_runs_nothing(api, function, context, kind):
    name = function("echo")
    response = api.generic("POST", f"/api/v1/functions/{name}/invoke", b"{}", content_type="application/json",
                           HTTP_X_LAMBENT_CLIENT_CONTEXT=context, HTTP_X_LAMBENT_INVOCATION_TYPE=kind)
    assert response.status_code == 400
    assert response.json()["type"] == "InvalidParameterValueException"
    assert "client_context" in response.json()["message"] or "Client context" in response.json()["message"]
    assert not Invocation.objects.exists()


def test_empty_payload_is_an_empty_object(api, function):
    name = function("echo")
    response = api.generic("POST", f"/api/v1/functions/{name}/invoke", b"")
    assert json.loads(response.content) == {}


def test_response_over_6_mb_is_a_function_error(api, function):
    name = function("big")
    response = invoke(api, name)
    assert response["X-Lambent-Function-Error"] == "Unhandled"
    assert json.loads(response.content)["errorType"] == "Function.ResponseSizeTooLarge"


def test_ledger_endpoints(api, function):
    name = function("count")
    request_ids = [invoke(api, name)["X-Lambent-Request-Id"] for _ in range(3)]
    one = api.get(f"/api/v1/invocations/{request_ids[0]}").json()
    assert one["status"] == "succeeded" and one["function_name"] == name
    assert one["log"].startswith("START RequestId:")
    listed = api.get(f"/api/v1/functions/{name}/invocations?page_size=2").json()
    assert [i["request_id"] for i in listed["results"]] == request_ids[::-1][:2]
    assert api.get("/api/v1/invocations/not-a-uuid").status_code == 404


def test_warm_reuse_keeps_module_state_and_a_new_version_starts_fresh(api, function):
    name = function("count")
    assert [json.loads(invoke(api, name).content) for _ in range(3)] == [1, 2, 3]
    api.patch(f"/api/v1/functions/{name}", {"description": "changed"}, format="json")
    assert json.loads(invoke(api, name).content) == 1


def test_invoke_needs_credentials_and_post(api, function, client):
    name = function("echo")
    anonymous = client.post(f"/api/v1/functions/{name}/invoke", b"{}", content_type="application/json")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"].startswith("Bearer")
    assert api.get(f"/api/v1/functions/{name}/invoke").status_code == 405
    assert not Invocation.objects.exists()


def test_a_warm_invoke_skips_the_lookups(api, function, django_assert_max_num_queries):
    name = function("echo")
    invoke(api, name)
    with django_assert_max_num_queries(3):  # the ledger row, and nothing to authenticate or resolve
        assert invoke(api, name).status_code == 200


def test_writes_take_effect_on_the_next_invoke(api, function, tenant):
    from lambent.iam.models import AccessKey

    name = function("count")
    assert json.loads(invoke(api, name).content) == 1
    api.patch(f"/api/v1/functions/{name}", {"description": "new configuration"}, format="json")
    assert json.loads(invoke(api, name).content) == 1  # a new $LATEST: a fresh sandbox
    key = AccessKey.objects.get(pk=tenant.credentials.access_key.pk)
    key.is_active = False
    key.save()
    assert invoke(api, name).status_code == 403


def test_another_secret_for_the_same_key_is_not_remembered(api, function, tenant):
    from rest_framework.test import APIClient

    name = function("echo")
    assert invoke(api, name).status_code == 200
    impostor = APIClient()
    impostor.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.credentials.access_key_id}:guessed")
    assert invoke(impostor, name).status_code == 401
