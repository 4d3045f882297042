"""The wire of the Lambda API (botocore's ``rest-json``): a call in, a response or an error out.

Errors are answered as Lambda answers them, so an SDK raises the modeled exception: the
error's name in ``x-amzn-ErrorType``, a JSON body ``{"Type": "User" | "Service", "message":
...}`` (a throttle adds ``Reason`` and ``Retry-After``), and the status of
``lambent.errors``. Every response carries ``x-amzn-RequestId``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.http import HttpResponse, QueryDict

from lambent import errors, jsonbody
from lambent.iam.models import Tenant

logger = logging.getLogger(__name__)


class UnsupportedOperation(errors.UserError):
    """A Lambda operation this installation does not offer."""

    status_code = 400
    error_type = "UnsupportedOperationException"


class ValidationFailed(errors.UserError):
    """A member that breaks a constraint of the Lambda API's model (a pattern), as AWS's
    request validation answers it before the operation runs."""

    status_code = 400
    error_type = "ValidationException"

    @classmethod
    def pattern(cls, member: str, value: str, pattern: str) -> ValidationFailed:
        return cls(f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
                   f"Member must satisfy regular expression pattern: {pattern.strip('^$')}")


@dataclass
class Call:
    """One authenticated request of one operation."""

    tenant: Tenant
    params: dict[str, str]  # from the path, decoded
    query: QueryDict
    headers: Mapping[str, str]
    body: bytes
    request_id: str
    base_url: str  # where the client reached this server, for links it is given

    @staticmethod
    def new_request_id() -> str:
        return str(uuid.uuid4())

    def json(self) -> dict[str, Any]:
        """The body as a JSON object (an empty body is ``{}``)."""
        if not self.body.strip():
            return {}
        try:
            value = jsonbody.parse_text_document(self.body)
        except ValueError as exc:  # UnicodeDecodeError included
            raise errors.UserError(f"Could not parse request body into json: {exc}.") from None
        if not isinstance(value, dict):
            raise errors.UserError("Could not parse request body into json: expected an object.")
        return value


def respond(body: Any = None, *, status: int = 200, headers: Mapping[str, str] | None = None,
            request_id: str) -> HttpResponse:
    """A JSON response (no body for ``None``)."""
    content = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    response = HttpResponse(content, status=status,
                            content_type="application/json" if body is not None else None)
    if body is None:
        del response["Content-Type"]
    response["x-amzn-RequestId"] = request_id
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def error_response(exc: errors.LambentError, *, request_id: str) -> HttpResponse:
    if isinstance(exc, errors.PlatformError):
        logger.error("platform error: %s", exc.message, exc_info=exc)
    body: dict[str, Any] = {"Type": "Service" if exc.status_code >= 500 else "User", "message": exc.message}
    headers = {"x-amzn-ErrorType": exc.error_type}
    if isinstance(exc, errors.Throttled):
        body["Reason"] = exc.reason
        headers["Retry-After"] = str(exc.retry_after)
    return respond(body, status=exc.status_code, headers=headers, request_id=request_id)


def unexpected_error(exc: Exception, *, request_id: str) -> HttpResponse:
    logger.exception("unexpected error in the Lambda API", exc_info=exc)
    return error_response(errors.PlatformError("An internal error occurred; it has been logged."),
                          request_id=request_id)


# --- reading parameters --------------------------------------------------------------------------

def required(body: Mapping[str, Any], name: str) -> Any:
    if body.get(name) is None:
        raise errors.InvalidParameter.field(name, f"{name} is required.")
    return body[name]


def text(body: Mapping[str, Any], name: str, *, default: str | None = None) -> str | None:
    value = body.get(name, default)
    if value is not None and not isinstance(value, str):
        raise errors.InvalidParameter.field(name, f"{name} must be a string.")
    return value


def integer(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise errors.InvalidParameter.field(name, f"{name} must be an integer.")
    return value


def boolean(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise errors.InvalidParameter.field(name, f"{name} must be true or false.")
    return value


def mapping(body: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    value = body.get(name)
    if value is not None and not isinstance(value, dict):
        raise errors.InvalidParameter.field(name, f"{name} must be an object.")
    return value


def revision(value: Any, *, name: str = "RevisionId") -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise errors.PreconditionFailed("The Revision Id provided does not match the latest Revision Id. "
                                        f"Call the GetFunction/GetAlias API to retrieve the latest {name}.") from None


def blob(value: Any, *, name: str) -> bytes:
    """A ``blob`` member of the model: base64 in JSON."""
    if not isinstance(value, str):
        raise errors.InvalidParameter.field(name, f"{name} must be base64-encoded bytes.")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise errors.InvalidParameter.field(name, f"{name} is not valid base64.") from None


#: Items of a list page when ``MaxItems`` is not given, and the most it may ask for.
PAGE_SIZE, PAGE_SIZE_MAX = 50, 10000


def page_size(query: Mapping[str, str]) -> int:
    given = query.get("MaxItems")
    if given is None:
        return PAGE_SIZE
    if not given.isdigit() or not 1 <= int(given) <= PAGE_SIZE_MAX:
        raise errors.InvalidParameter.field("MaxItems", f"MaxItems must be between 1 and {PAGE_SIZE_MAX}.")
    return int(given)


def marker(query: Mapping[str, str]) -> int:
    """Pages are offsets; the marker is the next one, opaque to clients."""
    given = query.get("Marker")
    if given is None:
        return 0
    try:
        offset = int(base64.urlsafe_b64decode(given.encode()).decode())
    except (ValueError, binascii.Error):
        raise errors.InvalidParameter.field("Marker", "Marker is not one this API returned.") from None
    if offset < 0:
        raise errors.InvalidParameter.field("Marker", "Marker is not one this API returned.")
    return offset


def next_marker(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def listing(member: str, items: Any, query: Mapping[str, str], shape: Callable[[list[Any]], list[Any]]
            ) -> dict[str, Any]:
    """One page of ``items`` (a queryset or list) as a list response: ``member`` holds the page as
    ``shape`` renders it, ``NextMarker`` the marker of the next page, if there is one."""
    size = page_size(query)
    start = marker(query)
    page = list(items[start:start + size + 1])
    body: dict[str, Any] = {member: shape(page[:size])}
    if len(page) > size:
        body["NextMarker"] = next_marker(start + size)
    return body
