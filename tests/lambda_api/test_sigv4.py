"""AWS Signature Version 4 as the Lambda API verifies it: what boto3 signs is accepted, and a
wrong secret, an unknown key, a skewed clock, a tampered body or a foreign scope is refused
with the 403 Lambda answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from botocore.exceptions import ClientError

from lambent.iam import services as iam_services
from tests.lambda_api.conftest import boto_client, send, signed

pytestmark = pytest.mark.django_db(transaction=True)


def error_of(call) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def client_with(account, **overrides):
    credentials = account.new_tenant.credentials
    params = {"access_key_id": credentials.access_key_id, "secret_access_key": credentials.secret_access_key,
              **overrides}
    return boto_client(account.endpoint, **params)


def test_a_request_signed_by_botocores_signer_is_accepted(account):
    status, _, body = send(signed(account, "GET", "/2015-03-31/functions"))

    assert status == 200, body
    assert body["Functions"] == []


def test_a_wrong_secret_is_an_invalid_signature(account):
    client = client_with(account, secret_access_key="not-the-secret-" + "x" * 25)

    status, code, _ = error_of(client.list_functions)

    assert (status, code) == (403, "InvalidSignatureException")


def test_an_unknown_access_key_is_an_unrecognized_client(account):
    client = client_with(account, access_key_id="AKIAUNKNOWNKEY000000")

    status, code, _ = error_of(client.list_functions)

    assert (status, code) == (403, "UnrecognizedClientException")


def test_a_deactivated_access_key_is_refused(account):
    iam_services.access_key_deactivate(tenant=account.new_tenant.tenant,
                                       access_key_id=account.new_tenant.credentials.access_key_id)

    status, _, _ = error_of(account.client.list_functions)

    assert status == 403


@pytest.mark.parametrize(("skew", "message"), [(-20, "Signature expired"), (20, "Signature not yet current")])
def test_a_skewed_clock_is_refused(account, skew, message):
    at = datetime.now(UTC) + timedelta(minutes=skew)

    with mock.patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None)):
        status, code, text = error_of(account.client.list_functions)

    assert (status, code) == (403, "InvalidSignatureException")
    assert text.startswith(message), text


@pytest.mark.parametrize("skew", [-10, 10])
def test_a_clock_within_fifteen_minutes_is_accepted(account, skew):
    at = datetime.now(UTC) + timedelta(minutes=skew)

    with mock.patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None)):
        assert account.client.list_functions()["Functions"] == []


def test_a_body_changed_after_signing_is_refused(account):
    def tamper(request, **_):
        request.body = request.body.replace(b"hello", b"HELLO")

    account.client.meta.events.register("before-send.lambda.CreateFunction", tamper)

    status, code, _ = error_of(lambda: account.create_function("hello"))

    assert (status, code) == (403, "InvalidSignatureException")
    account.client.meta.events.unregister("before-send.lambda.CreateFunction", tamper)
    with pytest.raises(account.client.exceptions.ResourceNotFoundException):
        account.client.get_function(FunctionName="hello")
    with pytest.raises(account.client.exceptions.ResourceNotFoundException):
        account.client.get_function(FunctionName="HELLO")


def test_a_raw_invoke_body_changed_after_signing_is_refused(account):
    account.create_function("hello")
    request = signed(account, "POST", "/2015-03-31/functions/hello/invocations", b'{"amount": 10}')

    status, headers, _ = send(request, body=b'{"amount": 99}')

    assert status == 403
    assert headers["x-amzn-errortype"].startswith("InvalidSignatureException")


@pytest.mark.parametrize("at", [timedelta(minutes=-20), timedelta(minutes=20)], ids=["past", "future"])
def test_a_raw_request_signed_out_of_the_window_is_refused(account, at):
    status, headers, body = send(signed(account, "GET", "/2015-03-31/functions", at=datetime.now(UTC) + at))

    assert status == 403
    assert headers["x-amzn-errortype"].startswith("InvalidSignatureException")
    assert body["message"].startswith("Signature expired" if at < timedelta(0) else "Signature not yet current")


def test_a_signature_for_another_service_is_refused(account):
    status, headers, _ = send(signed(account, "GET", "/2015-03-31/functions", service="s3"))

    assert status == 403
    assert headers["x-amzn-errortype"].startswith("InvalidSignatureException")


def test_a_signature_for_a_region_not_served_is_refused(account):
    client = client_with(account, region="eu-west-3")

    status, code, _ = error_of(client.list_functions)

    assert (status, code) == (403, "InvalidSignatureException")


def test_an_unsigned_request_is_refused_with_a_lambda_error(account):
    status, headers, body = send(signed(account, "GET", "/2015-03-31/functions"),
                                 drop=("authorization", "x-amz-date"))

    assert status == 403
    assert headers.get("x-amzn-errortype")
    assert body.get("message") or body.get("Message")
