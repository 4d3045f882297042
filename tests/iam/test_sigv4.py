"""SigV4 verification against botocore's own signer: what an SDK signs verifies, and each way a
request can be wrong is refused with Lambda's error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lambent.errors import InvalidSignature, MissingAuthenticationToken, UnrecognizedClient
from lambent.iam import sigv4

pytestmark = pytest.mark.django_db
ARN_PATH = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Ahello/invocations"


def signed(credentials, *, method="POST", path=ARN_PATH, query="Qualifier=live", body=b'{"a": 1}',
           region="us-east-1", service="lambda", at: datetime | None = None, secret: str | None = None):
    url = f"http://127.0.0.1:8000{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=body, headers={"X-Amz-Invocation-Type": "Event"})
    signer = SigV4Auth(Credentials(credentials.access_key_id, secret or credentials.secret_access_key),
                       service, region)
    if at is None:
        signer.add_auth(request)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None)):
            signer.add_auth(request)
    parts = urlsplit(url)
    headers = {name: value for name, value in request.headers.items()}
    headers["Host"] = parts.netloc
    return sigv4.SignedRequest(method=method, raw_path=parts.path, query_string=parts.query, headers=headers,
                               body=body)


def test_what_botocore_signs_verifies_and_names_the_key(tenant):
    key = sigv4.verify(signed(tenant.credentials), regions=["us-east-1"])
    assert key.access_key_id == tenant.credentials.access_key_id and key.tenant == tenant.tenant


def test_the_encoded_path_is_what_verifies(tenant):
    request = signed(tenant.credentials)
    decoded = sigv4.SignedRequest(method=request.method, raw_path=request.raw_path.replace("%3A", ":"),
                                  query_string=request.query_string, headers=request.headers, body=request.body)
    with pytest.raises(InvalidSignature):
        sigv4.verify(decoded, regions=["us-east-1"])


def test_a_wrong_secret_is_an_invalid_signature(tenant):
    with pytest.raises(InvalidSignature, match="does not match"):
        sigv4.verify(signed(tenant.credentials, secret="not-the-secret"), regions=["us-east-1"])


def test_an_unknown_key_is_an_unrecognized_client(tenant):
    credentials = type(tenant.credentials)(access_key=mock.Mock(access_key_id="LKIANOBODYHASTHISKEY"),
                                           secret_access_key="whatever")
    with pytest.raises(UnrecognizedClient, match="security token included in the request is invalid"):
        sigv4.verify(signed(credentials), regions=["us-east-1"])


def test_a_tampered_body_or_query_does_not_verify(tenant):
    request = signed(tenant.credentials)
    for changed in ({"body": b'{"a": 2}'}, {"query_string": "Qualifier=other"}):
        tampered = sigv4.SignedRequest(**{**request.__dict__, **changed})
        with pytest.raises(InvalidSignature):
            sigv4.verify(tampered, regions=["us-east-1"])


@pytest.mark.parametrize(("minutes", "message"), [(-16, "Signature expired"), (16, "Signature not yet current")])
def test_a_clock_more_than_15_minutes_off_is_refused(tenant, minutes, message):
    at = datetime.now(UTC) + timedelta(minutes=minutes)
    with pytest.raises(InvalidSignature, match=message):
        sigv4.verify(signed(tenant.credentials, at=at), regions=["us-east-1"])


def test_a_clock_within_15_minutes_verifies(tenant):
    at = datetime.now(UTC) - timedelta(minutes=14)
    assert sigv4.verify(signed(tenant.credentials, at=at), regions=["us-east-1"]).tenant == tenant.tenant


def test_the_scope_must_name_an_allowed_region_and_lambda(tenant):
    with pytest.raises(InvalidSignature, match="valid region"):
        sigv4.verify(signed(tenant.credentials, region="eu-west-1"), regions=["us-east-1"])
    assert sigv4.verify(signed(tenant.credentials, region="eu-west-1"), regions=["us-east-1", "eu-west-1"])
    with pytest.raises(InvalidSignature, match="correct service"):
        sigv4.verify(signed(tenant.credentials, service="s3"), regions=["us-east-1"])


def test_a_request_without_a_sigv4_authorization_is_refused(tenant):
    request = signed(tenant.credentials)
    with pytest.raises(MissingAuthenticationToken):
        sigv4.verify(sigv4.SignedRequest(**{**request.__dict__, "headers": {"Host": "127.0.0.1:8000"}}),
                     regions=["us-east-1"])
    for authorization in ("Bearer a:b", "AWS4-HMAC-SHA256 Credential=x"):
        headers = {**request.headers, "Authorization": authorization}
        with pytest.raises((InvalidSignature, UnrecognizedClient)):
            sigv4.verify(sigv4.SignedRequest(**{**request.__dict__, "headers": headers}), regions=["us-east-1"])
