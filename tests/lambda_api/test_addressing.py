"""Addressing as Lambda accepts it: a function named by name, partial ARN or full ARN, with the
qualifier ($LATEST, a version number or an alias) in ``Qualifier`` or after a colon in the name;
and another tenant's function, by any name, answering ResourceNotFoundException."""

from __future__ import annotations

import json

import pytest

from tests.lambda_api.conftest import code, returning, sha256_base64

pytestmark = pytest.mark.django_db(transaction=True)

FORMS = ["name", "partial-arn", "full-arn"]
# Qualifier -> (the version it resolves to, what that version's code returns).
QUALIFIERS = {"$LATEST": ("$LATEST", "latest"), "1": ("1", "one"), "live": ("1", "one")}


def reference(account, form: str, name: str = "hello") -> str:
    return {"name": name, "partial-arn": f"{account.account_id}:function:{name}",
            "full-arn": account.arn(name)}[form]


@pytest.fixture
def addressed(account):
    """``hello``: version 1 returns "one", alias ``live`` points at it, $LATEST returns "latest"."""
    account.create_function("hello", returning("one"), Publish=True)
    account.client.update_function_code(FunctionName="hello", ZipFile=code(returning("latest")))
    account.client.create_alias(FunctionName="hello", Name="live", FunctionVersion="1")
    return account


def spellings(account, form: str, qualifier: str) -> list[dict[str, str]]:
    """The same target as ``Qualifier`` and as a suffix of ``FunctionName``."""
    ref = reference(account, form)
    return [{"FunctionName": ref, "Qualifier": qualifier}, {"FunctionName": f"{ref}:{qualifier}"}]


@pytest.mark.parametrize("qualifier", list(QUALIFIERS))
@pytest.mark.parametrize("form", FORMS)
def test_configuration_by_every_reference(addressed, form, qualifier):
    version, returns = QUALIFIERS[qualifier]
    for target in spellings(addressed, form, qualifier):
        found = addressed.client.get_function_configuration(**target)
        assert found["Version"] == version, target
        assert found["CodeSha256"] == sha256_base64(code(returning(returns))), target
        assert found["FunctionArn"].startswith(addressed.arn("hello")), target
        assert addressed.client.get_function(**target)["Configuration"]["Version"] == version, target


@pytest.mark.sandbox
@pytest.mark.usefixtures("executor_process")
@pytest.mark.parametrize("qualifier", list(QUALIFIERS))
@pytest.mark.parametrize("form", FORMS)
def test_invoke_by_every_reference(addressed, form, qualifier):
    version, returns = QUALIFIERS[qualifier]
    for target in spellings(addressed, form, qualifier):
        response = addressed.client.invoke(Payload=b"{}", **target)
        assert response["ExecutedVersion"] == version, target
        assert json.loads(response["Payload"].read()) == returns, target


@pytest.mark.sandbox
@pytest.mark.usefixtures("executor_process")
@pytest.mark.parametrize("form", FORMS)
def test_unqualified_invoke_runs_latest(addressed, form):
    response = addressed.client.invoke(FunctionName=reference(addressed, form), Payload=b"{}")

    assert response["ExecutedVersion"] == "$LATEST"
    assert json.loads(response["Payload"].read()) == "latest"


@pytest.mark.parametrize("form", FORMS)
def test_other_operations_accept_every_reference(addressed, form):
    client, ref = addressed.client, reference(addressed, form)

    assert [v["Version"] for v in client.list_versions_by_function(FunctionName=ref)["Versions"]] == ["$LATEST", "1"]
    assert client.get_alias(FunctionName=ref, Name="live")["FunctionVersion"] == "1"
    assert [a["Name"] for a in client.list_aliases(FunctionName=ref)["Aliases"]] == ["live"]
    client.put_function_concurrency(FunctionName=ref, ReservedConcurrentExecutions=2)
    assert client.get_function_concurrency(FunctionName=ref)["ReservedConcurrentExecutions"] == 2
    client.add_permission(FunctionName=ref, StatementId="s", Action="lambda:InvokeFunction",
                          Principal="s3.amazonaws.com")
    assert json.loads(client.get_policy(FunctionName=ref)["Policy"])["Statement"][0]["Sid"] == "s"
    client.put_function_event_invoke_config(FunctionName=ref, Qualifier="live", MaximumRetryAttempts=0)
    assert client.get_function_event_invoke_config(FunctionName=f"{ref}:live")["FunctionArn"] == \
        addressed.arn("hello", "live")
    assert client.update_function_configuration(FunctionName=ref, Timeout=7)["Timeout"] == 7
    assert client.publish_version(FunctionName=ref)["Version"] == "2"
    client.delete_function(FunctionName=f"{ref}:2")
    client.delete_function(FunctionName=ref)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function(FunctionName="hello")


def test_a_qualifier_given_twice_must_agree(addressed):
    with pytest.raises(addressed.client.exceptions.InvalidParameterValueException):
        addressed.client.get_function_configuration(FunctionName="hello:1", Qualifier="live")
    assert addressed.client.get_function_configuration(FunctionName="hello:live", Qualifier="live")["Version"] == "1"


@pytest.mark.parametrize("qualifier", ["7", "ghost"])
def test_an_unknown_qualifier_is_not_found(addressed, qualifier):
    client = addressed.client
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function_configuration(FunctionName="hello", Qualifier=qualifier)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName=f"hello:{qualifier}", InvocationType="DryRun")


def _calls(target: str, arn: str):
    return {
        "get_function": {"FunctionName": target},
        "get_function_configuration": {"FunctionName": target},
        "invoke": {"FunctionName": target, "InvocationType": "DryRun"},
        "update_function_code": {"FunctionName": target, "ZipFile": code()},
        "update_function_configuration": {"FunctionName": target, "Timeout": 9},
        "publish_version": {"FunctionName": target},
        "list_versions_by_function": {"FunctionName": target},
        "list_aliases": {"FunctionName": target},
        "put_function_concurrency": {"FunctionName": target, "ReservedConcurrentExecutions": 1},
        "add_permission": {"FunctionName": target, "StatementId": "steal", "Action": "lambda:InvokeFunction",
                           "Principal": "s3.amazonaws.com"},
        "list_tags": {"Resource": arn},
        "tag_resource": {"Resource": arn, "Tags": {"owner": "intruder"}},
        "delete_function": {"FunctionName": target},
    }


@pytest.mark.parametrize("form", FORMS)
def test_another_tenants_function_is_not_found(account, other_account, form):
    other_account.create_function("hello", Tags={"owner": "globex"})

    leaked = {}
    for operation, params in _calls(reference(other_account, form), other_account.arn("hello")).items():
        try:
            answer = getattr(account.client, operation)(**params)
        except account.client.exceptions.ResourceNotFoundException:
            continue
        except Exception as exc:  # any other answer is the finding, reported below
            answer = repr(exc)
        leaked[operation] = answer

    assert leaked == {}
    config = other_account.client.get_function_configuration(FunctionName="hello")
    assert config["Timeout"] == 3 and config["CodeSha256"] == sha256_base64(code())
    assert other_account.client.list_tags(Resource=other_account.arn("hello"))["Tags"] == {"owner": "globex"}
    assert [v["Version"] for v in other_account.client.list_versions_by_function(
        FunctionName="hello")["Versions"]] == ["$LATEST"]
    assert "Concurrency" not in other_account.client.get_function(FunctionName="hello")


def test_listing_shows_only_the_callers_functions(account, other_account):
    other_account.create_function("theirs")
    account.create_function("mine")

    assert [f["FunctionName"] for f in account.client.list_functions()["Functions"]] == ["mine"]
    assert [f["FunctionName"] for f in account.client.list_functions(FunctionVersion="ALL")["Functions"]] == ["mine"]
