"""The OpenAPI schema of the native API (``lambent.api.schema``): every operation, every answer, every constraint."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from rest_framework.test import APIClient

from lambent.functions import limits
from lambent.queues import limits as queue_limits

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        response = APIClient().get("/api/v1/schema?format=json")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    return dict(json.loads(response.content))


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, operation) for path, methods in schema["paths"].items()
            for method, operation in methods.items()]


def component(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(schema["components"]["schemas"][name])


def test_the_invoke_operation_is_in_the_schema_as_it_is_called(schema):
    invoke = schema["paths"]["/api/v1/functions/{name}/invoke"]["post"]
    parameters = {(parameter["in"], parameter["name"]): parameter for parameter in invoke["parameters"]}
    assert {("path", "name"), ("query", "qualifier"), ("query", "type"), ("query", "log"),
            ("header", "X-Lambent-Invocation-Type"), ("header", "X-Lambent-Client-Context")} == set(parameters)
    type_pattern = re.compile(parameters[("query", "type")]["schema"]["pattern"])
    assert all(type_pattern.fullmatch(given) for given in ("", "Event", "event", "DRYRUN", "RequestResponse"))
    assert not type_pattern.fullmatch("Async")
    assert {"200", "202", "204", "400", "401", "403", "404", "413", "429", "500", "503"} == set(invoke["responses"])
    assert invoke["responses"]["200"]["headers"]["X-Lambent-Request-Id"]["required"] is True


def test_every_operation_answers_its_errors_in_the_error_shape(schema):
    assert len(operations(schema)) == 71
    for method, path, operation in operations(schema):
        codes = set(operation["responses"])
        assert {"400", "401", "403", "500"} <= codes, (method, path)
        if "{" in path:
            assert "404" in codes, (method, path)
        if "requestBody" in operation and not path.endswith("/invoke"):
            assert {"413", "415"} <= codes, (method, path)
        for code in codes - {"200", "201", "202", "204"}:
            content = operation["responses"][code]["content"]["application/json"]["schema"]
            assert content == {"$ref": "#/components/schemas/Error"}, (method, path, code)
    assert component(schema, "Error")["required"] == ["type", "message"]
    assert schema["paths"]["/api/v1/functions/{name}"]["patch"]["responses"]["401"]["headers"]["WWW-Authenticate"]


@pytest.mark.parametrize(("path", "method", "code"), [
    ("/api/v1/functions", "post", "409"), ("/api/v1/functions/{name}", "patch", "412"),
    ("/api/v1/functions/{name}/versions/{version}", "delete", "409"), ("/api/v1/queues", "post", "409"),
    ("/api/v1/invocations/{request_id}/redrive", "post", "503"), ("/api/v1/functions/{name}/invoke", "post", "429"),
    ("/api/v1/schedules", "post", "409"),
])
def test_the_errors_of_an_operation_s_own_are_documented(schema, path, method, code):
    assert code in schema["paths"][path][method]["responses"]


def test_request_bodies_take_no_unknown_field_and_no_nul(schema):
    for name, body in schema["components"]["schemas"].items():
        if name.endswith(("Request", "RequestForm")):
            assert body["additionalProperties"] is False, name
    queue = component(schema, "QueueCreateRequest")["properties"]
    assert queue["name"]["pattern"] == queue_limits.NAME_PATTERN
    message = component(schema, "MessageSendRequest")["properties"]
    assert message["body"]["pattern"] == "^[^\\u0000]*$"


def test_the_constraints_the_server_enforces_are_stated(schema):
    create = component(schema, "FunctionCreateRequest")["properties"]
    assert create["name"]["pattern"] == limits.NAME_PATTERN
    assert (create["memory_size"]["minimum"], create["memory_size"]["maximum"]) == (128, 10240)
    assert (create["timeout"]["minimum"], create["timeout"]["maximum"]) == (1, 900)
    assert component(schema, "RuntimeEnum")["enum"] == ["provided", "provided.al2023", "python3.11", "python3.12",
                                                         "python3.13"]
    assert "AWS_REGION" in create["environment"]["propertyNames"]["not"]["enum"]
    assert create["zip_file"]["contentMediaType"] == "application/zip"
    receive = component(schema, "MessagesReceiveRequest")["properties"]["max_messages"]
    assert (receive["minimum"], receive["maximum"]) == (1, queue_limits.RECEIVE_MAX)
    alias = component(schema, "AliasCreateRequest")["properties"]
    assert alias["name"]["pattern"] == limits.ALIAS_NAME_PATTERN
    assert alias["additional_version_weights"]["maxProperties"] == 1
    parameters = schema["paths"]["/api/v1/functions"]["get"]["parameters"]
    page_size = next(parameter for parameter in parameters if parameter["name"] == "page_size")["schema"]
    assert (page_size["minimum"], page_size["maximum"]) == (1, 1000)
    statuses = next(parameter for parameter in schema["paths"]["/api/v1/invocations"]["get"]["parameters"]
                    if parameter["name"] == "status")["schema"]["enum"]
    assert "succeeded" in statuses


def test_an_upload_is_a_file_in_a_form_and_each_variable_a_field(schema):
    content = schema["paths"]["/api/v1/functions"]["post"]["requestBody"]["content"]
    assert content["multipart/form-data"]["schema"] == {"$ref": "#/components/schemas/FunctionCreateRequestForm"}
    form = component(schema, "FunctionCreateRequestForm")
    assert form["properties"]["zip_file"]["format"] == "binary"
    assert "environment" not in form["properties"]
    (variables,) = form["patternProperties"]
    assert re.fullmatch(variables, "environment.GREETING") and not re.fullmatch(variables, "environment.1")


def test_path_parameters_carry_the_names_patterns(schema):
    parameters = schema["paths"]["/api/v1/functions/{name}/aliases/{alias}"]["get"]["parameters"]
    patterns = {parameter["name"]: parameter["schema"]["pattern"] for parameter in parameters
                if parameter["in"] == "path"}
    assert patterns == {"name": limits.NAME_PATTERN, "alias": limits.ALIAS_NAME_PATTERN}


def test_the_schema_is_yaml_unless_json_is_asked_for(client):
    assert client.get("/api/v1/schema")["Content-Type"].startswith("application/vnd.oai.openapi")
    assert client.get("/api/v1/schema").content.startswith(b"openapi: 3.1.0")
    assert client.get("/api/v1/schema", HTTP_ACCEPT="application/json")["Content-Type"].startswith("application/json")
