"""Hostile and malformed requests to the Lambda API: 4xx errors in Lambda's shape, never a 5xx."""

from __future__ import annotations

import pytest

from tests.lambda_api.conftest import Account, send, signed

pytestmark = pytest.mark.django_db(transaction=True)

DEEP = ("[" * 1000 + "]" * 1000).encode()


def test_an_event_nested_a_thousand_deep_is_a_400_that_boto3_does_not_retry(account: Account) -> None:
    account.create_function("hello")
    status, headers, body = send(signed(account, "POST", "/2015-03-31/functions/hello/invocations", DEEP))
    assert (status, headers["x-amzn-errortype"]) == (400, "InvalidRequestContentException")
    assert body["Type"] == "User"


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/2015-03-31/functions", DEEP),
    ("POST", "/2015-03-31/functions", b'{"FunctionName": "a\\u0000"}'),
    ("POST", "/2015-03-31/functions", b'{"FunctionName": "\\udc00"}'),
    ("GET", "/2015-03-31/functions/hello?Qualifier=%00", b""),
    ("GET", "/2015-03-31/functions?" + "&".join(f"p{n}=1" for n in range(3000)), b""),
])
def test_bodies_and_queries_no_operation_can_take_are_4xx_in_lambda_s_shape(account: Account, method: str,
                                                                            path: str, body: bytes) -> None:
    status, headers, answer = send(signed(account, method, path, body))
    assert 400 <= status < 500, answer
    assert headers["x-amzn-errortype"] and answer["Type"] == "User"


def test_a_body_over_the_limit_is_a_413_in_lambda_s_shape(account: Account, settings) -> None:
    request = signed(account, "POST", "/2015-03-31/functions", b"{}")
    request.headers["Content-Length"] = str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    status, headers, _ = send(request)
    assert (status, headers["x-amzn-errortype"]) == (413, "RequestTooLargeException")
