"""The native API refuses what its schema forbids, and takes what it allows (``lambent.api.serializers``):
no coercion of types, no field ignored, patterns matched whole, the limits of each field."""

from __future__ import annotations

import base64

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import b64, function_body, make_zip


def refused(response, field: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["type"] == "InvalidParameterValueException" and field in body["fields"], body


@pytest.mark.parametrize("page_size", ["true", "false", "-5", "0", "1001", "2.5", "", "5 "])
def test_a_page_size_that_is_no_whole_number_in_range_is_a_400(api, page_size):
    refused(api.get("/api/v1/functions", {"page_size": page_size}), "page_size")


@pytest.mark.parametrize("cursor", ["bm9wZQ", "a-b_c", "%%%", "\u00e9"])
def test_a_cursor_the_api_did_not_write_is_a_400_not_a_404(api, create_function, cursor):
    create_function()
    refused(api.get("/api/v1/functions", {"cursor": cursor}), "cursor")


def test_a_cursor_the_api_wrote_is_followed(api, create_function):
    for name in ("a", "b", "c"):
        create_function(name)
    page = api.get("/api/v1/functions", {"page_size": 2}).json()
    following = api.get(page["next"])
    assert following.status_code == 200
    assert [function["name"] for function in following.json()["results"]] == ["c"]


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/v1/queues", {"name": 975}, "name"),
    ("/api/v1/queues", {"name": "q", "visibility_timeout": "30"}, "visibility_timeout"),
    ("/api/v1/queues", {"name": "q", "visibility_timeout": True}, "visibility_timeout"),
    ("/api/v1/queues", {"name": "q", "visibility_timeout": 30.5}, "visibility_timeout"),
    ("/api/v1/queues/hello/messages/receive", {"max_messages": False}, "max_messages"),
])
def test_a_value_of_another_json_type_is_refused_not_coerced(api, path, body, field):
    api.post("/api/v1/queues", {"name": "hello"}, format="json")
    refused(api.post(path, body, format="json"), field)


def test_an_integral_number_is_an_integer_as_json_schema_counts(api):
    response = api.post("/api/v1/queues", {"name": "q", "visibility_timeout": 30.0}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["visibility_timeout"] == 30


@pytest.mark.parametrize(("path", "method", "body"), [
    ("/api/v1/queues", "post", {"name": "q", "visiblity_timeout": 10}),
    ("/api/v1/functions", "post", function_body(memroy_size=256)),
    ("/api/v1/functions/hello", "patch", {"timeout": 5, "arn": "x"}),
    ("/api/v1/functions/hello/aliases", "post", {"name": "live", "function_version": "$LATEST", "weight": 1}),
    ("/api/v1/functions/hello/event-invoke-config", "put",
     {"destination_config": {"on_success": {"destination": "", "extra": 1}}}),
])
def test_a_field_the_request_does_not_have_is_a_400(api, create_function, path, method, body):
    create_function()
    response = getattr(api, method)(path, body, format="json")
    assert response.status_code == 400, response.content
    assert "Not a field of this request." in str(response.json()["fields"])


def test_a_field_a_response_shows_is_no_field_of_a_request(api, create_function):
    create_function()
    refused(api.put("/api/v1/functions/hello/event-invoke-config", {"qualifier": "1"}, format="json"), "qualifier")


def test_a_form_field_given_twice_is_a_400(api):
    response = api.post("/api/v1/functions", {
        "name": ["one", "two"], "runtime": "python3.11", "handler": "app.handler",
        "zip_file": SimpleUploadedFile("code.zip", make_zip())}, format="multipart")
    refused(response, "name")
    assert response.json()["fields"]["name"] == ["Given more than once."]


@pytest.mark.parametrize("field", ["environment", "environment.", "memory_size", "runtime"])
def test_a_form_field_that_names_nothing_or_is_blank_is_a_400(api, field):
    form = {"name": "f", "runtime": "python3.11", "handler": "app.handler",
            "zip_file": SimpleUploadedFile("code.zip", make_zip()), field: ""}
    refused(api.post("/api/v1/functions", form, format="multipart"), field)


def test_a_blank_query_parameter_is_a_400_not_a_parameter_not_given(api):
    refused(api.get("/api/v1/invocations", {"until": ""}), "until")
    refused(api.get("/api/v1/invocations", {"status": ""}), "status")


@pytest.mark.parametrize(("body", "field"), [
    (function_body("hello\n"), "name"), (function_body("a" * 65), "name"),
    (function_body(runtime="python2.7"), "runtime"),
    (function_body(handler="app handler"), "handler"), (function_body(handler="app.handler\n"), "handler"),
    (function_body(memory_size=127), "memory_size"), (function_body(timeout=901), "timeout"),
    (function_body(environment={"AWS_REGION": "x"}), "environment"),
    (function_body(environment={"A\n": "x"}), "environment"), (function_body(description="d" * 257), "description"),
    (function_body(role="arn:aws:iam::123456789012:role/x\n"), "role"),
    (function_body(zip_file="not base64!"), "zip_file"), (function_body(zip_file=b64(b"not a zip")), "zip_file"),
    (function_body(revision_id="3f2b8a3e1c2d4e5f8a9b0c1d2e3f4a5b"), "revision_id"),
])
def test_each_constraint_of_the_schema_is_enforced(api, body, field):
    if field == "revision_id":
        body.pop("zip_file")
        response = api.patch("/api/v1/functions/hello", {"revision_id": body["revision_id"]}, format="json")
    else:
        response = api.post("/api/v1/functions", body, format="json")
    refused(response, field)


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "q\n"}, "name"), ({"name": "q", "visibility_timeout": 43201}, "visibility_timeout"),
    ({"name": "q", "message_retention_seconds": 59}, "message_retention_seconds"),
])
def test_queue_names_and_ranges_are_enforced(api, body, field):
    refused(api.post("/api/v1/queues", body, format="json"), field)


@pytest.mark.parametrize(("body", "field"), [
    ({"attributes": {"a b": "x"}}, "attributes"), ({"attributes": {f"a{n}": "x" for n in range(11)}}, "attributes"),
    ({"body": ""}, "body"),
])
def test_message_attributes_are_enforced(api, body, field):
    api.post("/api/v1/queues", {"name": "q"}, format="json")
    refused(api.post("/api/v1/queues/q/messages", {"body": "hi", **body}, format="json"), field)


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "123", "function_version": "$LATEST"}, "name"),
    ({"name": "live", "function_version": "latest"}, "function_version"),
    ({"name": "live", "function_version": "1", "additional_version_weights": {"2": 1.5}},
     "additional_version_weights"),
    ({"name": "live", "function_version": "1", "additional_version_weights": {"2": 0.1, "3": 0.1}},
     "additional_version_weights"),
])
def test_alias_names_versions_and_weights_are_enforced(api, create_function, body, field):
    create_function(publish=True)
    refused(api.post("/api/v1/functions/hello/aliases", body, format="json"), field)


def test_weights_to_a_version_that_does_not_exist_are_a_404(api, create_function):
    create_function(publish=True)
    response = api.post("/api/v1/functions/hello/aliases", {
        "name": "live", "function_version": "1", "additional_version_weights": {"7": 0.5}}, format="json")
    assert (response.status_code, response.json()["type"]) == (404, "ResourceNotFoundException")


@pytest.mark.parametrize("version", ["99999999999", "9" * 5000])
def test_a_version_number_past_what_the_database_holds_is_not_found(api, create_function, version):
    create_function()
    assert api.get(f"/api/v1/functions/hello/versions/{version}").status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"maximum_retry_attempts": 3}, "maximum_retry_attempts"),
    ({"maximum_event_age_seconds": 59}, "maximum_event_age_seconds"),
    ({"destination_config": {"on_failure": {"destination": "ftp://example.com/x"}}}, "destination_config"),
])
def test_event_invoke_config_ranges_and_destinations_are_enforced(api, create_function, body, field):
    create_function()
    refused(api.put("/api/v1/functions/hello/event-invoke-config", body, format="json"), field)


def test_the_bounds_of_concurrency_are_enforced(api, create_function):
    create_function(publish=True)
    refused(api.put("/api/v1/functions/hello/concurrency", {"reserved_concurrent_executions": -1}, format="json"),
            "reserved_concurrent_executions")
    refused(api.put("/api/v1/functions/hello/provisioned-concurrency?qualifier=1",
                    {"provisioned_concurrent_executions": 0}, format="json"), "provisioned_concurrent_executions")


def test_a_function_without_a_reservation_answers_an_empty_object(api, create_function):
    create_function()
    assert api.get("/api/v1/functions/hello/concurrency").json() == {}


def test_a_zip_in_base64_is_taken_as_the_schema_says(api):
    code = base64.b64encode(make_zip()).decode()
    assert api.post("/api/v1/functions", function_body(zip_file=code), format="json").status_code == 201
