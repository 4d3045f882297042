"""Asynchronous invocation configuration through boto3, with destinations given as ARNs of
Lambent functions and queues, and one destination record delivered end to end."""

from __future__ import annotations

import pytest

from tests.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def destinations(config: dict) -> tuple[str | None, str | None]:
    found = config.get("DestinationConfig", {})
    return found.get("OnSuccess", {}).get("Destination"), found.get("OnFailure", {}).get("Destination")


def test_put_and_get_an_event_invoke_config(account):
    account.create_function("hello")
    account.create_function("audit")
    failures = account.queue_arn("failures")

    put = account.client.put_function_event_invoke_config(
        FunctionName="hello", MaximumRetryAttempts=1, MaximumEventAgeInSeconds=120,
        DestinationConfig={"OnSuccess": {"Destination": account.arn("audit")},
                           "OnFailure": {"Destination": failures}})

    assert put["FunctionArn"] == account.arn("hello", "$LATEST")
    assert (put["MaximumRetryAttempts"], put["MaximumEventAgeInSeconds"]) == (1, 120)
    assert destinations(put) == (account.arn("audit"), failures)
    assert put["LastModified"]
    got = account.client.get_function_event_invoke_config(FunctionName="hello")
    assert {key: got[key] for key in ("FunctionArn", "MaximumRetryAttempts", "MaximumEventAgeInSeconds")} == \
        {"FunctionArn": account.arn("hello", "$LATEST"), "MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 120}
    assert destinations(got) == (account.arn("audit"), failures)


def test_put_replaces_the_whole_config_and_update_changes_only_what_it_names(account):
    account.create_function("hello")
    failures = account.queue_arn("failures")
    account.client.put_function_event_invoke_config(FunctionName="hello", MaximumRetryAttempts=1,
                                                    DestinationConfig={"OnFailure": {"Destination": failures}})

    updated = account.client.update_function_event_invoke_config(FunctionName="hello", MaximumEventAgeInSeconds=300)

    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (1, 300)
    assert destinations(updated) == (None, failures)

    replaced = account.client.put_function_event_invoke_config(FunctionName="hello", MaximumRetryAttempts=0)

    assert replaced["MaximumRetryAttempts"] == 0
    assert destinations(replaced) == (None, None)
    assert replaced.get("MaximumEventAgeInSeconds") in (None, 21600)


def test_configs_per_qualifier_are_listed_and_deleted(account):
    account.create_function("hello", Publish=True)
    account.client.create_alias(FunctionName="hello", Name="live", FunctionVersion="1")
    account.client.put_function_event_invoke_config(FunctionName="hello", MaximumRetryAttempts=2)
    account.client.put_function_event_invoke_config(FunctionName="hello", Qualifier="live", MaximumRetryAttempts=0)

    listed = account.client.list_function_event_invoke_configs(FunctionName="hello")["FunctionEventInvokeConfigs"]

    assert sorted((config["FunctionArn"], config["MaximumRetryAttempts"]) for config in listed) == \
        sorted([(account.arn("hello", "$LATEST"), 2), (account.arn("hello", "live"), 0)])
    account.client.delete_function_event_invoke_config(FunctionName="hello", Qualifier="live")
    with pytest.raises(account.client.exceptions.ResourceNotFoundException):
        account.client.get_function_event_invoke_config(FunctionName="hello", Qualifier="live")
    assert account.client.get_function_event_invoke_config(FunctionName="hello")["MaximumRetryAttempts"] == 2


def test_event_invoke_config_errors(account):
    client = account.client
    account.create_function("hello")

    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function_event_invoke_config(FunctionName="hello")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.update_function_event_invoke_config(FunctionName="hello", MaximumRetryAttempts=1)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.delete_function_event_invoke_config(FunctionName="hello")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.put_function_event_invoke_config(FunctionName="nope", MaximumRetryAttempts=1)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.list_function_event_invoke_configs(FunctionName="nope")
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.put_function_event_invoke_config(FunctionName="hello",
                                                DestinationConfig={"OnSuccess": {"Destination": "not-an-arn"}})


@pytest.mark.sandbox
@pytest.mark.usefixtures("executor_process", "async_platform")
def test_an_event_result_reaches_its_queue_destination(account):
    account.create_function("hello")
    successes = account.queue_arn("successes")
    account.client.put_function_event_invoke_config(FunctionName="hello",
                                                    DestinationConfig={"OnSuccess": {"Destination": successes}})

    response = account.client.invoke(FunctionName="hello", InvocationType="Event", Payload=b'{"order": 7}')

    request_id = response["ResponseMetadata"]["RequestId"]
    [record] = wait_until(lambda: account.queue_bodies("successes"), timeout=30, what="the success record")
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestPayload"] == {"order": 7}
    assert record["responsePayload"] == {"order": 7}
