"""Resource policies (AddPermission, RemovePermission, GetPolicy) and tags (TagResource,
UntagResource, ListTags) through boto3, in the shapes Lambda returns."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_add_permission_answers_the_statement_and_get_policy_the_document(account):
    account.create_function("hello")

    added = account.client.add_permission(
        FunctionName="hello", StatementId="s3-invoke", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::uploads", SourceAccount=account.account_id)

    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    statement = json.loads(added["Statement"])
    assert statement == {
        "Sid": "s3-invoke", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction", "Resource": account.arn("hello"),
        "Condition": {"StringEquals": {"AWS:SourceAccount": account.account_id},
                      "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::uploads"}},
    }
    policy = account.client.get_policy(FunctionName="hello")
    assert policy["RevisionId"]
    document = json.loads(policy["Policy"])
    assert document == {"Version": "2012-10-17", "Id": "default", "Statement": [statement]}


def test_an_account_principal_becomes_its_root_arn(account):
    account.create_function("hello")

    added = account.client.add_permission(FunctionName="hello", StatementId="partner", Action="lambda:GetFunction",
                                          Principal="111122223333")

    statement = json.loads(added["Statement"])
    assert statement["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert "Condition" not in statement


def test_statements_accumulate_and_are_removed_one_by_one(account):
    account.create_function("hello")
    for sid in ("one", "two"):
        account.client.add_permission(FunctionName="hello", StatementId=sid, Action="lambda:InvokeFunction",
                                      Principal="events.amazonaws.com")

    document = json.loads(account.client.get_policy(FunctionName="hello")["Policy"])
    assert [statement["Sid"] for statement in document["Statement"]] == ["one", "two"]

    removed = account.client.remove_permission(FunctionName="hello", StatementId="one")

    assert removed["ResponseMetadata"]["HTTPStatusCode"] == 204
    document = json.loads(account.client.get_policy(FunctionName="hello")["Policy"])
    assert [statement["Sid"] for statement in document["Statement"]] == ["two"]
    account.client.remove_permission(FunctionName="hello", StatementId="two")
    with pytest.raises(account.client.exceptions.ResourceNotFoundException):
        account.client.get_policy(FunctionName="hello")


def test_a_policy_per_qualifier(account):
    account.create_function("hello", Publish=True)
    account.client.create_alias(FunctionName="hello", Name="live", FunctionVersion="1")

    added = account.client.add_permission(FunctionName="hello", Qualifier="live", StatementId="live-only",
                                          Action="lambda:InvokeFunction", Principal="sns.amazonaws.com")

    assert json.loads(added["Statement"])["Resource"] == account.arn("hello", "live")
    document = json.loads(account.client.get_policy(FunctionName="hello", Qualifier="live")["Policy"])
    assert [statement["Sid"] for statement in document["Statement"]] == ["live-only"]
    with pytest.raises(account.client.exceptions.ResourceNotFoundException):
        account.client.get_policy(FunctionName="hello")


def test_policy_errors(account):
    client = account.client
    account.create_function("hello")
    client.add_permission(FunctionName="hello", StatementId="once", Action="lambda:InvokeFunction",
                          Principal="s3.amazonaws.com")

    with pytest.raises(client.exceptions.ResourceConflictException):
        client.add_permission(FunctionName="hello", StatementId="once", Action="lambda:InvokeFunction",
                              Principal="sqs.amazonaws.com")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.remove_permission(FunctionName="hello", StatementId="never")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.add_permission(FunctionName="nope", StatementId="x", Action="lambda:InvokeFunction",
                              Principal="s3.amazonaws.com")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_policy(FunctionName="nope")


def test_get_policy_without_statements_is_not_found(account):
    account.create_function("hello")

    with pytest.raises(account.client.exceptions.ResourceNotFoundException) as raised:
        account.client.get_policy(FunctionName="hello")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_tag_list_and_untag_a_function(account):
    account.create_function("hello", Tags={"team": "core"})
    arn = account.arn("hello")

    tagged = account.client.tag_resource(Resource=arn, Tags={"stage": "prod", "team": "platform"})

    assert tagged["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert account.client.list_tags(Resource=arn)["Tags"] == {"team": "platform", "stage": "prod"}
    account.client.untag_resource(Resource=arn, TagKeys=["team", "absent"])
    assert account.client.list_tags(Resource=arn)["Tags"] == {"stage": "prod"}
    assert account.client.get_function(FunctionName="hello")["Tags"] == {"stage": "prod"}


def test_tags_of_a_missing_function_are_not_found(account):
    arn = account.arn("nope")
    client = account.client

    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.list_tags(Resource=arn)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.tag_resource(Resource=arn, Tags={"a": "b"})
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.untag_resource(Resource=arn, TagKeys=["a"])
