"""AWS Signature Version 4, verified: how the Lambda-compatible API knows who signed a request.

A client (boto3, the AWS CLI, any SDK) signs with an access key's secret; the server rebuilds
the same canonical request from what it received, derives the same key and compares. Rules
that matter here, learned from what SDKs send:

- The canonical URI is the path *as sent*, still percent-encoded, then encoded once more
  (``%3A`` becomes ``%253A``): every service but S3 double-encodes. The decoded path would not
  verify for a function ARN in the path, so the caller hands over the raw path.
- The payload hash is computed here from the body received (a client's
  ``X-Amz-Content-SHA256``, when it sends one, must agree with it): a body changed on the way
  fails.
- The credential scope's date, region and service must be today's request date, a region this
  installation answers for, and the service's signing name (``lambda``, or ``scheduler`` for the
  Scheduler API); the request time (``X-Amz-Date``) must be within 15
  minutes of the server's clock.

A signature that does not match is ``InvalidSignature``; a key id nobody issued is
``UnrecognizedClient``; no signature at all is ``MissingAuthenticationToken`` (all 403, as AWS
answers). The access key's other rules (active,
its user active and still a member) are ``authentication.check_may_act``'s.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from django.http import HttpRequest

from lambent.errors import InvalidSignature, MissingAuthenticationToken, UnrecognizedClient
from lambent.iam import crypto, selectors
from lambent.iam.models import AccessKey

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "lambda"
MAX_SKEW = timedelta(minutes=15)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your AWS "
            "Secret Access Key and signing method. Consult the service documentation for details.")


@dataclass(frozen=True)
class SignedRequest:
    """What verification needs of a request, as received."""

    method: str
    raw_path: str  # still percent-encoded, without the query
    query_string: str  # as received
    headers: Mapping[str, str]  # names in any case
    body: bytes

    @classmethod
    def of(cls, request: HttpRequest) -> SignedRequest:
        """``request`` as it arrived: its path still percent-encoded (ASGI's ``raw_path``), as the
        signature covers it; re-encoded from the decoded path where no ASGI scope is (a test client)."""
        scope = getattr(request, "scope", None)
        raw = scope.get("raw_path") if scope else None
        raw_path = raw.decode("latin-1").partition("?")[0] if raw else quote(request.path, safe="/~!$&'()*+,;=:@")
        return cls(method=request.method or "GET", raw_path=raw_path, query_string=request.META.get("QUERY_STRING", ""),
                   headers=request.headers, body=request.body)


@dataclass(frozen=True)
class _Authorization:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: list[str]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


@dataclass(frozen=True)
class Parsed:
    """A request whose signature is well-formed, in time and in scope: what is left is to compare
    it with the one its key computes (``check``)."""

    access_key_id: str
    scope: tuple[str, str, str]  # date, region, service: what a signing key is derived for
    string_to_sign: str
    signature: str


def verify(request: SignedRequest, *, regions: Iterable[str], now: datetime | None = None,
           service: str = SERVICE) -> AccessKey:
    """The access key that signed ``request``; raises ``InvalidSignature``, ``UnrecognizedClient``
    or ``MissingAuthenticationToken``."""
    parsed = parse(request, regions=regions, now=now, service=service)
    key, secret = access_key(parsed.access_key_id)
    check(parsed, signing_key(secret, *parsed.scope))
    return key


def parse(request: SignedRequest, *, regions: Iterable[str], now: datetime | None = None,
          service: str = SERVICE) -> Parsed:
    """``service``: the signing name the credential scope must carry (``lambda``; the Scheduler API's
    ``scheduler``)."""
    headers = {name.lower(): value for name, value in request.headers.items()}
    authorization = _parse_authorization(headers.get("authorization", ""))
    amz_date = headers.get("x-amz-date", "")
    signed_at = _parse_amz_date(amz_date)
    _check_clock(amz_date, signed_at, now or datetime.now(UTC))
    _check_scope(authorization, amz_date, regions, service)
    missing = {"host"} - set(authorization.signed_headers)
    if missing or any(name not in headers for name in authorization.signed_headers):
        raise InvalidSignature("'Host' and every header named in SignedHeaders must be signed and sent.")
    payload_hash = hashlib.sha256(request.body).hexdigest()
    claimed = headers.get("x-amz-content-sha256")
    if claimed is not None and claimed != payload_hash:
        raise InvalidSignature("The provided 'x-amz-content-sha256' header does not match what was computed.")
    canonical = canonical_request(request, headers=headers, signed_headers=authorization.signed_headers,
                                  payload_hash=payload_hash)
    to_sign = "\n".join([ALGORITHM, amz_date, authorization.scope, hashlib.sha256(canonical.encode()).hexdigest()])
    return Parsed(access_key_id=authorization.access_key_id,
                  scope=(authorization.date, authorization.region, authorization.service),
                  string_to_sign=to_sign, signature=authorization.signature)


def access_key(access_key_id: str) -> tuple[AccessKey, str]:
    """The key with this id and its secret; ``UnrecognizedClient`` when nobody issued it."""
    key = selectors.access_key_for_authentication(access_key_id=access_key_id)
    secret = crypto.decrypt_secret(key.encrypted_secret) if key is not None else None
    if key is None or secret is None:
        raise UnrecognizedClient("The security token included in the request is invalid.")
    return key, secret


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The key a secret signs with for one day, region and service (what may be kept: it signs
    nothing else)."""
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def check(parsed: Parsed, key: bytes) -> None:
    expected = hmac.new(key, parsed.string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, parsed.signature):
        raise InvalidSignature(MISMATCH)


def canonical_request(request: SignedRequest, *, headers: Mapping[str, str], signed_headers: list[str],
                      payload_hash: str) -> str:
    canonical_headers = "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in signed_headers)
    return "\n".join([
        request.method.upper(),
        quote(request.raw_path or "/", safe="/~"),
        _canonical_query(request.query_string),
        canonical_headers,
        ";".join(signed_headers),
        payload_hash,
    ])


def _canonical_query(query_string: str) -> str:
    pairs = []
    for item in query_string.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        pairs.append((quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _parse_authorization(header: str) -> _Authorization:
    if not header.strip():
        raise MissingAuthenticationToken("Missing Authentication Token: sign requests with AWS Signature "
                                         "Version 4.")
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise UnrecognizedClient(f"Missing or unsupported Authorization: sign requests with {ALGORITHM} "
                                 "(AWS Signature Version 4).")
    fields = {}
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value
    try:
        key_id, date, region, service, terminator = fields["Credential"].split("/")
        signed_headers = fields["SignedHeaders"].split(";")
        given = fields["Signature"]
    except (KeyError, ValueError):
        raise InvalidSignature("Authorization header requires 'Credential' (key/date/region/service/aws4_request), "
                               "'SignedHeaders' and 'Signature'.") from None
    if terminator != "aws4_request" or not key_id:
        raise InvalidSignature("Credential should be scoped with a valid terminator: 'aws4_request'.")
    return _Authorization(access_key_id=key_id, date=date, region=region, service=service,
                          signed_headers=signed_headers, signature=given)


def _parse_amz_date(amz_date: str) -> datetime:
    try:
        return datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidSignature("The request must carry its signing time in 'X-Amz-Date' as YYYYMMDD'T'HHMMSS'Z'."
                               ) from None


def _check_clock(amz_date: str, signed_at: datetime, now: datetime) -> None:
    if signed_at < now - MAX_SKEW:
        raise InvalidSignature(f"Signature expired: {amz_date} is now earlier than "
                               f"{(now - MAX_SKEW).strftime(_AMZ_DATE)} ({now.strftime(_AMZ_DATE)} - 15 min.)")
    if signed_at > now + MAX_SKEW:
        raise InvalidSignature(f"Signature not yet current: {amz_date} is still later than "
                               f"{(now + MAX_SKEW).strftime(_AMZ_DATE)} ({now.strftime(_AMZ_DATE)} + 15 min.)")


def _check_scope(authorization: _Authorization, amz_date: str, regions: Iterable[str], service: str) -> None:
    if authorization.date != amz_date[:8]:
        raise InvalidSignature(f"Credential should be scoped to a valid date: {amz_date[:8]}, "
                               f"not {authorization.date}.")
    allowed = sorted(regions)
    if authorization.region not in allowed:
        raise InvalidSignature(f"Credential should be scoped to a valid region ({', '.join(allowed)}), "
                               f"not '{authorization.region}'.")
    if authorization.service != service:
        raise InvalidSignature(f"Credential should be scoped to correct service: '{service}', "
                               f"not '{authorization.service}'.")
