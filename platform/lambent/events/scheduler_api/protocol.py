"""The wire of EventBridge Scheduler's API (botocore's ``rest-json``): a request in, JSON or an error out.

Errors are answered as Scheduler answers them, so boto3 raises the modeled exception: the name
in ``x-amzn-ErrorType`` and a body ``{"Message": ...}``, with the status of the error. Lambent's
errors map onto Scheduler's few names (``ERROR_NAMES``); a signature error keeps its own name
(boto3 raises it as a ``ClientError`` with that code, as AWS's does). Timestamps are epoch
seconds, botocore's default for this protocol.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.http import HttpResponse, QueryDict

from lambent import errors, jsonbody
from lambent.events.expressions import ScheduleInvalid
from lambent.iam.models import Tenant

logger = logging.getLogger(__name__)

#: Lambent's errors under Scheduler's names, most specific first.
ERROR_NAMES: tuple[tuple[type[errors.LambentError], str], ...] = (
    (errors.NotFound, "ResourceNotFoundException"),
    (errors.Conflict, "ConflictException"),
    (errors.Throttled, "ThrottlingException"),
    (errors.InvalidSignature, "InvalidSignatureException"),
    (errors.UnrecognizedClient, "UnrecognizedClientException"),
    (errors.MissingAuthenticationToken, "MissingAuthenticationTokenException"),
    (errors.AccessDenied, "AccessDeniedException"),
    (errors.UserError, "ValidationException"),
    (errors.PlatformError, "InternalServerException"),
)


@dataclass
class Call:
    """One authenticated request of one operation."""

    tenant: Tenant
    params: dict[str, str]  # from the path, decoded
    query: QueryDict
    body: bytes
    request_id: str

    def json(self) -> dict[str, Any]:
        if not self.body.strip():
            return {}
        try:
            value = jsonbody.parse_text_document(self.body)
        except ValueError as exc:
            raise ScheduleInvalid(f"Could not parse request body into json: {exc}.", field="body") from None
        if not isinstance(value, dict):
            raise ScheduleInvalid("Could not parse request body into json: expected an object.", field="body")
        return value


def new_request_id() -> str:
    return str(uuid.uuid4())


def respond(body: Mapping[str, Any], *, request_id: str, status: int = 200) -> HttpResponse:
    response = HttpResponse(json.dumps(body, separators=(",", ":")).encode(), status=status,
                            content_type="application/json")
    response["x-amzn-RequestId"] = request_id
    return response


def error_response(exc: errors.LambentError, *, request_id: str) -> HttpResponse:
    if isinstance(exc, errors.PlatformError):
        logger.error("platform error: %s", exc.message, exc_info=exc)
    name = next((name for kind, name in ERROR_NAMES if isinstance(exc, kind)), "InternalServerException")
    response = respond({"Message": exc.message}, status=exc.status_code, request_id=request_id)
    response["x-amzn-ErrorType"] = name
    return response


# --- members -------------------------------------------------------------------------------------

def text(body: Mapping[str, Any], name: str, *, default: str | None = None) -> str | None:
    value = body.get(name, default)
    if value is not None and not isinstance(value, str):
        raise ScheduleInvalid(f"{name} must be a string.", field=name)
    return value


def required_text(body: Mapping[str, Any], name: str) -> str:
    value = text(body, name)
    if value is None:
        raise ScheduleInvalid(f"1 validation error detected: Value null at '{name}' failed to satisfy constraint: "
                              "Member must not be null", field=name)
    return value


def structure(body: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ScheduleInvalid(f"{name} must be an object.", field=name)
    return value


def integer(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ScheduleInvalid(f"{name} must be an integer.", field=name)
    return value


def timestamp(body: Mapping[str, Any], name: str) -> datetime | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScheduleInvalid(f"{name} must be a timestamp (seconds since the epoch).", field=name)
    return datetime.fromtimestamp(value, tz=UTC)


def epoch(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


# --- pages ---------------------------------------------------------------------------------------

PAGE_SIZE_MAX = 100


def page(items: Any, query: Mapping[str, str]) -> tuple[list[Any], str | None]:
    """One page of ``items`` and the NextToken of the next one (an opaque offset), if any."""
    given = query.get("MaxResults")
    if given is not None and (not given.isdigit() or not 1 <= int(given) <= PAGE_SIZE_MAX):
        raise ScheduleInvalid(f"MaxResults must be between 1 and {PAGE_SIZE_MAX}.", field="MaxResults")
    size = int(given) if given else PAGE_SIZE_MAX
    start = _offset(query.get("NextToken"))
    found = list(items[start:start + size + 1])
    more = len(found) > size
    return found[:size], base64.urlsafe_b64encode(str(start + size).encode()).decode() if more else None


def _offset(token: str | None) -> int:
    if token is None:
        return 0
    try:
        offset = int(base64.urlsafe_b64decode(token.encode()).decode())
    except (ValueError, binascii.Error):
        offset = -1
    if offset < 0:
        raise ScheduleInvalid("NextToken is not one this API returned.", field="NextToken")
    return offset
