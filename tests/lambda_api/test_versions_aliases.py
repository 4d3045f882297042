"""Versions and aliases through boto3: publishing, listing with the paginators, aliases with
weighted routing, RevisionId locking, and the routing observed over many real invocations."""

from __future__ import annotations

import json
import math

import pytest

from tests.lambda_api.conftest import code, returning, sha256_base64

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_versions(account):
    """``hello``: version 1 returns "one", version 2 and $LATEST return "two"."""
    account.create_function("hello")
    assert account.versions("hello", returning("one"), returning("two")) == ["1", "2"]
    return account


def test_publish_version_answers_the_version_configuration(account):
    created = account.create_function("hello")

    published = account.client.publish_version(FunctionName="hello", Description="first")

    assert published["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert published["Version"] == "1"
    assert published["FunctionArn"] == account.arn("hello", "1")
    assert published["Description"] == "first"
    assert published["CodeSha256"] == created["CodeSha256"]
    assert published["State"] == "Active"


def test_publishing_unchanged_code_and_configuration_answers_the_last_version(account):
    account.create_function("hello")
    first = account.client.publish_version(FunctionName="hello")

    again = account.client.publish_version(FunctionName="hello")

    assert again["Version"] == first["Version"] == "1"
    versions = account.client.list_versions_by_function(FunctionName="hello")["Versions"]
    assert [version["Version"] for version in versions] == ["$LATEST", "1"]


def test_publish_with_a_stale_revision_fails(account):
    created = account.create_function("hello")
    account.client.update_function_code(FunctionName="hello", ZipFile=code(returning("v2")))

    with pytest.raises(account.client.exceptions.PreconditionFailedException):
        account.client.publish_version(FunctionName="hello", RevisionId=created["RevisionId"])


def test_publish_version_of_a_missing_function_is_not_found(account):
    with pytest.raises(account.client.exceptions.ResourceNotFoundException):
        account.client.publish_version(FunctionName="nope")


def test_list_versions_by_function_and_its_paginator(two_versions):
    client = two_versions.client

    listed = client.list_versions_by_function(FunctionName="hello")["Versions"]
    pages = list(client.get_paginator("list_versions_by_function").paginate(
        FunctionName="hello", PaginationConfig={"PageSize": 1}))

    assert [version["Version"] for version in listed] == ["$LATEST", "1", "2"]
    assert [version["CodeSha256"] for version in listed[1:]] == [sha256_base64(code(returning("one"))),
                                                                 sha256_base64(code(returning("two")))]
    assert len(pages) == 3
    assert [version["Version"] for page in pages for version in page["Versions"]] == ["$LATEST", "1", "2"]


def test_list_versions_of_a_missing_function_is_not_found(account):
    with pytest.raises(account.client.exceptions.ResourceNotFoundException):
        account.client.list_versions_by_function(FunctionName="nope")


def test_create_get_and_list_an_alias(two_versions):
    client = two_versions.client

    created = client.create_alias(FunctionName="hello", Name="live", FunctionVersion="1", Description="prod",
                                  RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}})

    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["AliasArn"] == two_versions.arn("hello", "live")
    assert (created["Name"], created["FunctionVersion"], created["Description"]) == ("live", "1", "prod")
    assert created["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    assert created["RevisionId"]
    fetched = client.get_alias(FunctionName="hello", Name="live")
    assert {key: fetched[key] for key in ("AliasArn", "Name", "FunctionVersion", "Description", "RoutingConfig",
                                          "RevisionId")} == \
        {key: created[key] for key in ("AliasArn", "Name", "FunctionVersion", "Description", "RoutingConfig",
                                       "RevisionId")}
    assert [alias["Name"] for alias in client.list_aliases(FunctionName="hello")["Aliases"]] == ["live"]


def test_create_alias_errors(two_versions):
    client = two_versions.client
    client.create_alias(FunctionName="hello", Name="live", FunctionVersion="1")

    with pytest.raises(client.exceptions.ResourceConflictException):
        client.create_alias(FunctionName="hello", Name="live", FunctionVersion="2")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.create_alias(FunctionName="hello", Name="beta", FunctionVersion="9")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.create_alias(FunctionName="nope", Name="beta", FunctionVersion="1")
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.create_alias(FunctionName="hello", Name="canary", FunctionVersion="1",
                            RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}})


def test_update_alias_with_revision_locking(two_versions):
    client = two_versions.client
    created = client.create_alias(FunctionName="hello", Name="live", FunctionVersion="1")

    updated = client.update_alias(FunctionName="hello", Name="live", FunctionVersion="2",
                                  RevisionId=created["RevisionId"],
                                  RoutingConfig={"AdditionalVersionWeights": {"1": 0.1}})

    assert updated["FunctionVersion"] == "2"
    assert updated["RoutingConfig"] == {"AdditionalVersionWeights": {"1": 0.1}}
    assert updated["RevisionId"] != created["RevisionId"]
    with pytest.raises(client.exceptions.PreconditionFailedException):
        client.update_alias(FunctionName="hello", Name="live", FunctionVersion="1", RevisionId=created["RevisionId"])
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.update_alias(FunctionName="hello", Name="ghost", FunctionVersion="1")
    assert client.get_alias(FunctionName="hello", Name="live")["FunctionVersion"] == "2"


def test_delete_alias(two_versions):
    client = two_versions.client
    client.create_alias(FunctionName="hello", Name="live", FunctionVersion="1")

    client.delete_alias(FunctionName="hello", Name="live")

    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_alias(FunctionName="hello", Name="live")
    assert client.list_aliases(FunctionName="hello")["Aliases"] == []
    client.delete_function(FunctionName="hello", Qualifier="1")  # no alias holds it any more


def test_list_aliases_filters_by_version_and_pages(two_versions):
    client = two_versions.client
    for name, version in (("a", "1"), ("b", "2"), ("c", "1")):
        client.create_alias(FunctionName="hello", Name=name, FunctionVersion=version)

    pages = list(client.get_paginator("list_aliases").paginate(FunctionName="hello", PaginationConfig={"PageSize": 2}))
    on_one = client.list_aliases(FunctionName="hello", FunctionVersion="1")["Aliases"]

    assert len(pages) == 2
    assert sorted(alias["Name"] for page in pages for alias in page["Aliases"]) == ["a", "b", "c"]
    assert sorted(alias["Name"] for alias in on_one) == ["a", "c"]
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.list_aliases(FunctionName="nope")


@pytest.mark.sandbox
@pytest.mark.usefixtures("executor_process")
def test_alias_weighted_routing_over_many_invocations(two_versions):
    client = two_versions.client
    client.create_alias(FunctionName="hello", Name="live", FunctionVersion="1",
                        RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}})
    runs, weight = 200, 0.3

    counts = {"1": 0, "2": 0}
    for _ in range(runs):
        response = client.invoke(FunctionName="hello", Qualifier="live", Payload=b"{}")
        version = response["ExecutedVersion"]
        assert json.loads(response["Payload"].read()) == {"1": "one", "2": "two"}[version]
        counts[version] += 1

    sigma = math.sqrt(runs * weight * (1 - weight))
    assert abs(counts["2"] - runs * weight) <= 4 * sigma, counts
    assert counts["1"] + counts["2"] == runs
