"""Reserved and provisioned concurrency through boto3, and the throttle a reservation of zero
answers as Lambda's TooManyRequestsException."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_put_get_and_delete_function_concurrency(account):
    account.create_function("hello")

    put = account.client.put_function_concurrency(FunctionName="hello", ReservedConcurrentExecutions=5)

    assert put["ReservedConcurrentExecutions"] == 5
    assert account.client.get_function_concurrency(FunctionName="hello")["ReservedConcurrentExecutions"] == 5
    assert account.client.get_function(FunctionName="hello")["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    assert account.client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 995

    account.client.delete_function_concurrency(FunctionName="hello")

    assert "ReservedConcurrentExecutions" not in account.client.get_function_concurrency(FunctionName="hello")
    assert account.client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 1000


def test_function_concurrency_of_a_missing_function_is_not_found(account):
    client = account.client
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.put_function_concurrency(FunctionName="nope", ReservedConcurrentExecutions=1)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function_concurrency(FunctionName="nope")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.delete_function_concurrency(FunctionName="nope")


def test_a_reservation_may_not_take_the_unreserved_minimum(account):
    account.create_function("hello")

    with pytest.raises(account.client.exceptions.InvalidParameterValueException):
        account.client.put_function_concurrency(FunctionName="hello", ReservedConcurrentExecutions=901)
    assert "ReservedConcurrentExecutions" not in account.client.get_function_concurrency(FunctionName="hello")


def test_a_function_reserved_to_zero_is_throttled(account):
    account.create_function("hello")
    account.client.put_function_concurrency(FunctionName="hello", ReservedConcurrentExecutions=0)

    with pytest.raises(account.client.exceptions.TooManyRequestsException) as raised:
        account.client.invoke(FunctionName="hello", Payload=b"{}")

    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


@pytest.mark.sandbox
@pytest.mark.usefixtures("executor_process")
def test_provisioned_concurrency_config_lifecycle(account):
    account.create_function("hello", Publish=True)
    client = account.client

    put = client.put_provisioned_concurrency_config(FunctionName="hello", Qualifier="1",
                                                    ProvisionedConcurrentExecutions=1)
    try:
        assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
        assert put["RequestedProvisionedConcurrentExecutions"] == 1
        assert put["Status"] in ("IN_PROGRESS", "READY")
        got = client.get_provisioned_concurrency_config(FunctionName="hello", Qualifier="1")
        assert got["RequestedProvisionedConcurrentExecutions"] == 1
        assert got["Status"] in ("IN_PROGRESS", "READY")
        [listed] = client.list_provisioned_concurrency_configs(FunctionName="hello")["ProvisionedConcurrencyConfigs"]
        assert listed["FunctionArn"] == account.arn("hello", "1")
        assert listed["RequestedProvisionedConcurrentExecutions"] == 1
    finally:
        client.delete_provisioned_concurrency_config(FunctionName="hello", Qualifier="1")

    # Lambda's own exception for a qualifier without a configuration (404).
    with pytest.raises(client.exceptions.ProvisionedConcurrencyConfigNotFoundException):
        client.get_provisioned_concurrency_config(FunctionName="hello", Qualifier="1")
    assert client.list_provisioned_concurrency_configs(FunctionName="hello")["ProvisionedConcurrencyConfigs"] == []


@pytest.mark.sandbox
@pytest.mark.usefixtures("executor_process")
def test_provisioned_concurrency_on_an_alias(account):
    account.create_function("hello", Publish=True)
    account.client.create_alias(FunctionName="hello", Name="live", FunctionVersion="1")

    try:
        put = account.client.put_provisioned_concurrency_config(FunctionName="hello", Qualifier="live",
                                                                ProvisionedConcurrentExecutions=1)
        assert put["Status"] in ("IN_PROGRESS", "READY")
        [listed] = account.client.list_provisioned_concurrency_configs(
            FunctionName="hello")["ProvisionedConcurrencyConfigs"]
        assert listed["FunctionArn"] == account.arn("hello", "live")
    finally:
        account.client.delete_provisioned_concurrency_config(FunctionName="hello", Qualifier="live")


def test_provisioned_concurrency_on_latest_is_invalid(account):
    account.create_function("hello")

    with pytest.raises(account.client.exceptions.InvalidParameterValueException):
        account.client.put_provisioned_concurrency_config(FunctionName="hello", Qualifier="$LATEST",
                                                          ProvisionedConcurrentExecutions=1)


def test_provisioned_concurrency_of_missing_things_is_not_found(account):
    account.create_function("hello")
    client = account.client

    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.put_provisioned_concurrency_config(FunctionName="nope", Qualifier="1", ProvisionedConcurrentExecutions=1)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.put_provisioned_concurrency_config(FunctionName="hello", Qualifier="7",
                                                  ProvisionedConcurrentExecutions=1)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.list_provisioned_concurrency_configs(FunctionName="nope")
