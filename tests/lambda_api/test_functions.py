"""Functions through boto3: create, read, update, delete, list, the account's settings, the SDK
waiters, and the error Lambda answers for each, as the modeled exception boto3 raises."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError, ParamValidationError, WaiterError

from tests.lambda_api.conftest import ECHO, HANDLER, RUNTIME, code, returning, role_arn, send, sha256_base64, signed

pytestmark = pytest.mark.django_db(transaction=True)

LAST_MODIFIED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
WAIT = {"Delay": 1, "MaxAttempts": 5}


def configuration(response: dict) -> dict:
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}


def test_create_function_answers_lambdas_configuration(account):
    zipped = code()
    response = account.client.create_function(
        FunctionName="hello", Runtime=RUNTIME, Handler=HANDLER, Role=role_arn(account.account_id),
        Code={"ZipFile": zipped}, Description="greets", Timeout=10, MemorySize=256,
        Environment={"Variables": {"GREETING": "hi"}})

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert response["FunctionName"] == "hello"
    assert response["FunctionArn"] == account.arn("hello")
    assert (response["Runtime"], response["Handler"]) == (RUNTIME, HANDLER)
    assert response["Role"] == role_arn(account.account_id)
    assert (response["Description"], response["Timeout"], response["MemorySize"]) == ("greets", 10, 256)
    assert response["Environment"] == {"Variables": {"GREETING": "hi"}}
    assert response["CodeSha256"] == sha256_base64(zipped)
    assert response["CodeSize"] == len(zipped)
    assert response["Version"] == "$LATEST"
    assert response["State"] == "Active"
    assert response["LastUpdateStatus"] == "Successful"
    assert response["PackageType"] == "Zip"
    assert response["Architectures"] == ["x86_64"]
    assert response["EphemeralStorage"] == {"Size": 512}
    assert LAST_MODIFIED.match(response["LastModified"]), response["LastModified"]
    assert response["RevisionId"]


def test_create_function_with_publish_answers_version_one(account):
    created = account.create_function("hello", Publish=True)

    assert created["Version"] == "1"
    versions = account.client.list_versions_by_function(FunctionName="hello")["Versions"]
    assert [version["Version"] for version in versions] == ["$LATEST", "1"]


def test_create_existing_function_conflicts(account):
    account.create_function("hello")

    with pytest.raises(account.client.exceptions.ResourceConflictException) as raised:
        account.create_function("hello")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_create_without_role_is_refused_before_sending(account):
    with pytest.raises(ParamValidationError, match="Role"):
        account.client.create_function(FunctionName="hello", Runtime=RUNTIME, Handler=HANDLER,
                                       Code={"ZipFile": code()})


def test_create_with_a_malformed_role_is_a_validation_error(account):
    # Lambda checks Role against the model's pattern on the server and answers 400
    # ValidationException ("1 validation error detected: Value 'lambda-role' at 'role' ...").
    with pytest.raises(ClientError) as raised:
        account.create_function("hello", Role="lambda-role")

    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ValidationException"
    assert "role" in error["Error"]["Message"]
    with pytest.raises(account.client.exceptions.ResourceNotFoundException):
        account.client.get_function(FunctionName="hello")


@pytest.mark.parametrize("overrides", [
    {"MemorySize": 10241},
    {"Timeout": 901},
    {"EphemeralStorage": {"Size": 10241}},
    {"Runtime": "python2.7"},
    {"Environment": {"Variables": {"AWS_REGION": "eu-west-1"}}},
    {"Code": {"ZipFile": b"this is not a zip archive"}},
], ids=["memory", "timeout", "ephemeral-storage", "runtime", "reserved-variable", "not-a-zip"])
def test_create_refuses_invalid_parameters(account, overrides):
    with pytest.raises(account.client.exceptions.InvalidParameterValueException) as raised:
        account.create_function("hello", **overrides)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_get_function_has_configuration_code_link_tags_and_concurrency(account):
    zipped = code(returning("hi"))
    account.create_function("hello", returning("hi"), Tags={"team": "core"})
    account.client.put_function_concurrency(FunctionName="hello", ReservedConcurrentExecutions=3)

    response = account.client.get_function(FunctionName="hello")

    assert response["Configuration"] == configuration(account.client.get_function_configuration(FunctionName="hello"))
    assert response["Configuration"]["FunctionArn"] == account.arn("hello")
    assert response["Code"]["RepositoryType"] == "S3"
    with urllib.request.urlopen(response["Code"]["Location"], timeout=10) as download:  # no credentials
        assert download.read() == zipped
    assert response["Tags"] == {"team": "core"}
    assert response["Concurrency"] == {"ReservedConcurrentExecutions": 3}


def test_a_tampered_code_link_downloads_nothing(account):
    account.create_function("hello")
    link = account.client.get_function(FunctionName="hello")["Code"]["Location"]
    tampered = link[:-1] + ("A" if link[-1] != "A" else "B")

    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(tampered, timeout=10)
    assert 400 <= raised.value.code < 500


@pytest.mark.parametrize("operation", ["get_function", "get_function_configuration"])
def test_get_missing_function_is_not_found(lambda_client, operation):
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as raised:
        getattr(lambda_client, operation)(FunctionName="nope")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "nope" in raised.value.response["Error"]["Message"]


def test_update_function_code_replaces_the_code_and_the_revision(account):
    created = account.create_function("hello")
    zipped = code(returning("v2"))

    updated = account.client.update_function_code(FunctionName="hello", ZipFile=zipped,
                                                  RevisionId=created["RevisionId"])

    assert updated["Version"] == "$LATEST"
    assert updated["CodeSha256"] == sha256_base64(zipped) and updated["CodeSize"] == len(zipped)
    assert updated["RevisionId"] != created["RevisionId"]
    assert updated["LastUpdateStatus"] == "Successful"
    assert account.client.get_function_configuration(FunctionName="hello")["CodeSha256"] == sha256_base64(zipped)


def test_update_function_code_with_publish_answers_the_new_version(account):
    account.create_function("hello")
    zipped = code(returning("v2"))

    published = account.client.update_function_code(FunctionName="hello", ZipFile=zipped, Publish=True)

    assert published["Version"] == "1"
    assert published["CodeSha256"] == sha256_base64(zipped)
    assert account.client.get_function_configuration(FunctionName="hello", Qualifier="1")["CodeSha256"] == \
        sha256_base64(zipped)


def test_update_function_code_with_a_stale_revision_fails(account):
    created = account.create_function("hello")
    account.client.update_function_code(FunctionName="hello", ZipFile=code(returning("v2")))

    with pytest.raises(account.client.exceptions.PreconditionFailedException) as raised:
        account.client.update_function_code(FunctionName="hello", ZipFile=code(returning("v3")),
                                            RevisionId=created["RevisionId"])
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert account.client.get_function_configuration(FunctionName="hello")["CodeSha256"] == \
        sha256_base64(code(returning("v2")))


def test_update_code_of_missing_function_is_not_found(lambda_client):
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.update_function_code(FunctionName="nope", ZipFile=code())


def test_update_function_configuration_changes_every_field(account):
    source = ECHO + "\ndef other(event, context):\n    return 'other'\n"
    created = account.create_function("hello", source)

    updated = account.client.update_function_configuration(
        FunctionName="hello", RevisionId=created["RevisionId"], Timeout=30, MemorySize=512,
        Environment={"Variables": {"STAGE": "prod"}}, Description="new", Handler="app.other", Runtime="python3.12",
        EphemeralStorage={"Size": 1024})

    expected = {"Timeout": 30, "MemorySize": 512, "Environment": {"Variables": {"STAGE": "prod"}},
                "Description": "new", "Handler": "app.other", "Runtime": "python3.12",
                "EphemeralStorage": {"Size": 1024}}
    assert {key: updated[key] for key in expected} == expected
    assert updated["RevisionId"] != created["RevisionId"]
    assert updated["LastUpdateStatus"] == "Successful"
    stored = account.client.get_function_configuration(FunctionName="hello")
    assert {key: stored[key] for key in expected} == expected
    assert stored["CodeSha256"] == created["CodeSha256"]


@pytest.mark.parametrize("change", [{"MemorySize": 10241}, {"Timeout": 901}, {"EphemeralStorage": {"Size": 10241}}],
                         ids=["memory", "timeout", "ephemeral-storage"])
def test_update_function_configuration_refuses_invalid_values(account, change):
    account.create_function("hello")

    with pytest.raises(account.client.exceptions.InvalidParameterValueException):
        account.client.update_function_configuration(FunctionName="hello", **change)
    stored = account.client.get_function_configuration(FunctionName="hello")
    assert (stored["MemorySize"], stored["Timeout"], stored["EphemeralStorage"]) == (128, 3, {"Size": 512})


def test_update_function_configuration_with_a_stale_revision_fails(account):
    created = account.create_function("hello")
    account.client.update_function_configuration(FunctionName="hello", Timeout=5)

    with pytest.raises(account.client.exceptions.PreconditionFailedException):
        account.client.update_function_configuration(FunctionName="hello", Timeout=6,
                                                     RevisionId=created["RevisionId"])
    assert account.client.get_function_configuration(FunctionName="hello")["Timeout"] == 5


def test_update_configuration_of_missing_function_is_not_found(lambda_client):
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.update_function_configuration(FunctionName="nope", Timeout=5)


def test_delete_function_removes_it(account):
    account.create_function("hello")

    account.client.delete_function(FunctionName="hello")

    with pytest.raises(account.client.exceptions.ResourceNotFoundException):
        account.client.get_function(FunctionName="hello")
    with pytest.raises(account.client.exceptions.ResourceNotFoundException):
        account.client.delete_function(FunctionName="hello")


def test_delete_function_with_qualifier_deletes_only_that_version(account):
    account.create_function("hello")
    assert account.versions("hello", returning(1), returning(2)) == ["1", "2"]

    account.client.delete_function(FunctionName="hello", Qualifier="1")

    versions = account.client.list_versions_by_function(FunctionName="hello")["Versions"]
    assert [version["Version"] for version in versions] == ["$LATEST", "2"]
    with pytest.raises(account.client.exceptions.ResourceNotFoundException):
        account.client.get_function(FunctionName="hello", Qualifier="1")
    assert account.client.get_function(FunctionName="hello")["Configuration"]["Version"] == "$LATEST"


def test_deleting_a_version_an_alias_points_to_conflicts(account):
    account.create_function("hello", Publish=True)
    account.client.create_alias(FunctionName="hello", Name="live", FunctionVersion="1")

    with pytest.raises(account.client.exceptions.ResourceConflictException) as raised:
        account.client.delete_function(FunctionName="hello", Qualifier="1")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert account.client.get_function_configuration(FunctionName="hello", Qualifier="1")["Version"] == "1"


def test_deleting_latest_alone_is_invalid(account):
    account.create_function("hello")

    with pytest.raises(account.client.exceptions.InvalidParameterValueException):
        account.client.delete_function(FunctionName="hello", Qualifier="$LATEST")


def test_list_functions_pages_with_marker_and_max_items(account):
    names = {f"fn-{index}" for index in range(5)}
    for name in names:
        account.create_function(name)

    seen: list[str] = []
    pages = 0
    marker: dict[str, str] = {}
    while True:
        page = account.client.list_functions(MaxItems=2, **marker)
        pages += 1
        assert len(page["Functions"]) <= 2
        seen += [function["FunctionName"] for function in page["Functions"]]
        if not page.get("NextMarker"):
            break
        marker = {"Marker": page["NextMarker"]}
        assert pages < 10, "the pages never end"
    assert sorted(seen) == sorted(names)
    assert pages == 3


def test_list_functions_paginator_walks_every_page(account):
    names = {f"fn-{index}" for index in range(5)}
    for name in names:
        account.create_function(name)

    pages = list(account.client.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}))

    assert len(pages) == 3
    listed = [function for page in pages for function in page["Functions"]]
    assert sorted(function["FunctionName"] for function in listed) == sorted(names)
    assert {function["Version"] for function in listed} == {"$LATEST"}
    assert all(function["FunctionArn"] == account.arn(function["FunctionName"]) for function in listed)


def test_list_functions_with_function_version_all_lists_every_version(account):
    account.create_function("a")
    account.versions("a", returning(1), returning(2))
    account.create_function("b")

    everything = account.client.list_functions(FunctionVersion="ALL")["Functions"]
    latest_only = account.client.list_functions()["Functions"]

    assert sorted((f["FunctionName"], f["Version"]) for f in everything) == \
        [("a", "$LATEST"), ("a", "1"), ("a", "2"), ("b", "$LATEST")]
    assert sorted((f["FunctionName"], f["Version"]) for f in latest_only) == [("a", "$LATEST"), ("b", "$LATEST")]


def test_get_account_settings(account):
    account.create_function("a")
    account.create_function("b", returning("b"))
    account.client.put_function_concurrency(FunctionName="a", ReservedConcurrentExecutions=10)

    settings = account.client.get_account_settings()

    limit, usage = settings["AccountLimit"], settings["AccountUsage"]
    assert limit["ConcurrentExecutions"] == 1000
    assert limit["UnreservedConcurrentExecutions"] == 990
    assert limit["CodeSizeZipped"] == 50 * 1024 * 1024
    assert limit["CodeSizeUnzipped"] == 250 * 1024 * 1024
    assert limit["TotalCodeSize"] == 75 * 1024 ** 3
    assert usage["FunctionCount"] == 2
    assert usage["TotalCodeSize"] >= len(code()) + len(code(returning("b")))


def test_waiters_finish(account):
    account.create_function("hello")
    account.client.get_waiter("function_exists").wait(FunctionName="hello", WaiterConfig=WAIT)
    account.client.get_waiter("function_active_v2").wait(FunctionName="hello", WaiterConfig=WAIT)

    account.client.update_function_configuration(FunctionName="hello", Timeout=9)
    account.client.get_waiter("function_updated_v2").wait(FunctionName="hello", WaiterConfig=WAIT)
    version = account.client.publish_version(FunctionName="hello")["Version"]
    account.client.get_waiter("published_version_active").wait(FunctionName="hello", Qualifier=version,
                                                                WaiterConfig=WAIT)


def test_function_exists_waiter_gives_up_on_a_missing_function(lambda_client):
    with pytest.raises(WaiterError):
        lambda_client.get_waiter("function_exists").wait(FunctionName="nope",
                                                         WaiterConfig={"Delay": 1, "MaxAttempts": 1})


@pytest.mark.parametrize(("operation", "params", "name"), [
    ("publish_layer_version", {"LayerName": "deps", "Content": {"ZipFile": b"zip"}}, "PublishLayerVersion"),
    ("create_event_source_mapping", {"FunctionName": "hello",
                                     "EventSourceArn": "arn:aws:sqs:us-east-1:123456789012:jobs"},
     "CreateEventSourceMapping"),
    ("create_function_url_config", {"FunctionName": "hello", "AuthType": "NONE"}, "CreateFunctionUrlConfig"),
])
def test_unsupported_operations_answer_a_clear_400(account, operation, params, name):
    account.create_function("hello")

    with pytest.raises(ClientError) as raised:
        getattr(account.client, operation)(**params)

    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "UnsupportedOperationException"
    assert name in error["Error"]["Message"]


def test_reads_of_features_not_here_answer_none(account):
    """What infrastructure tools read for each function they manage answers honestly, not with a 400."""
    account.create_function("hello")
    client = account.client

    assert client.get_function_code_signing_config(FunctionName="hello")["CodeSigningConfigArn"] == ""
    assert client.get_function_recursion_config(FunctionName="hello")["RecursiveLoop"] == "Terminate"
    assert client.put_function_recursion_config(FunctionName="hello", RecursiveLoop="Terminate")[
        "RecursiveLoop"] == "Terminate"
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.put_function_recursion_config(FunctionName="hello", RecursiveLoop="Allow")
    runtime = client.get_runtime_management_config(FunctionName="hello")
    assert runtime["UpdateRuntimeOn"] == "Auto" and runtime["FunctionArn"] == account.arn("hello")
    assert client.list_function_url_configs(FunctionName="hello")["FunctionUrlConfigs"] == []
    assert client.list_event_source_mappings(FunctionName="hello")["EventSourceMappings"] == []
    assert client.list_layers()["Layers"] == []
    assert client.list_layer_versions(LayerName="deps")["LayerVersions"] == []
    assert client.list_code_signing_configs()["CodeSigningConfigs"] == []
    for missing in (lambda: client.get_function_url_config(FunctionName="hello"),
                    lambda: client.get_event_source_mapping(UUID="14e0db71-5d35-4eb5-b481-8945cf9d10c2"),
                    lambda: client.get_layer_version(LayerName="deps", VersionNumber=1),
                    lambda: client.get_function_code_signing_config(FunctionName="nope"),
                    lambda: client.get_function_recursion_config(FunctionName="nope")):
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            missing()


def test_errors_carry_lambdas_error_header_and_body(account):
    status, headers, body = send(signed(account, "GET", "/2015-03-31/functions/nope"))

    assert status == 404
    assert headers["x-amzn-errortype"].split(":")[0] == "ResourceNotFoundException"
    assert headers["content-type"].startswith("application/json")
    assert headers.get("x-amzn-requestid")
    assert body["Type"] == "User"
    assert "nope" in body["message"]


def test_an_unknown_path_answers_a_json_error_not_a_page(account):
    status, headers, body = send(signed(account, "GET", "/2015-03-31/no-such-thing"))

    assert 400 <= status < 500, body
    assert headers["content-type"].startswith("application/json"), body
    assert headers.get("x-amzn-errortype")
