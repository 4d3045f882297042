"""The one view of the Scheduler API: match the operation, verify the signature, run the handler.

Scheduler's paths (``/schedules/{Name}``, ``/schedule-groups/{Name}``) sit at the server's root,
as the Lambda API's dated paths do, so boto3 needs only ``endpoint_url``. The signature is
verified against the path as it arrived, still percent-encoded, with the signing name
``scheduler``; the key's tenant is the caller, and every operation acts within it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from lambent import errors
from lambent.events.scheduler_api import protocol
from lambent.events.scheduler_api.operations import OPERATIONS
from lambent.events.scheduler_api.protocol import Call, error_response
from lambent.iam import sigv4
from lambent.iam.authentication import check_may_act
from lambent.iam.models import Tenant

SIGNING_NAME = "scheduler"
#: Scheduler's tag operations: answered as not supported, not as a missing page.
UNSUPPORTED = (("TagResource", "POST"), ("UntagResource", "DELETE"), ("ListTagsForResource", "GET"))
_TAGS = re.compile(r"^/tags/.+$")  # the ARN, decoded, holds slashes

Handler = Callable[[Call], HttpResponse]


def _compile(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "/?$")


_ROUTES = [(method, _compile(path), handler) for _, method, path, handler in OPERATIONS]


def _match(method: str, path: str) -> tuple[Handler, dict[str, str]]:
    for route_method, pattern, handler in _ROUTES:
        found = pattern.match(path)
        if found is not None and route_method == method:
            return handler, found.groupdict()
    if _TAGS.match(path):
        operation = next((name for name, tag_method in UNSUPPORTED if tag_method == method), "a tag operation")
        raise errors.UserError(f"This installation does not support the Scheduler operation {operation}: "
                               "schedules and groups have no tags here.")
    raise errors.NotFound(f"No Scheduler operation is {method} {path}.")


@csrf_exempt
async def dispatch(request: HttpRequest) -> HttpResponse:
    request_id = protocol.new_request_id()
    try:
        handler, params = _match(request.method or "GET", request.path)
        signed = sigv4.SignedRequest.of(request)
        return await sync_to_async(_run)(handler, signed, params=params, request=request, request_id=request_id)
    except errors.LambentError as exc:
        return error_response(exc, request_id=request_id)
    except SuspiciousOperation as exc:
        return error_response(errors.UserError(f"The request was refused: {exc}"), request_id=request_id)
    except Exception:  # noqa: BLE001 - answered as Scheduler's InternalServerException, logged
        protocol.logger.exception("unexpected error in the Scheduler API")
        return error_response(errors.PlatformError("An internal error occurred; it has been logged."),
                              request_id=request_id)


def _run(handler: Handler, signed: sigv4.SignedRequest, *, params: dict[str, str], request: HttpRequest,
         request_id: str) -> HttpResponse:
    call = Call(tenant=_authenticate(signed), params=params, query=request.GET, body=signed.body,
                request_id=request_id)
    return handler(call)


def _authenticate(signed: sigv4.SignedRequest) -> Tenant:
    key = sigv4.verify(signed, regions=settings.SIGNING_REGIONS, service=SIGNING_NAME)
    try:
        check_may_act(key)
    except errors.AccessDenied as exc:
        raise errors.UnrecognizedClient(exc.message) from None
    return key.tenant
