"""Every error of the native API becomes one JSON shape, here and nowhere else.

    {"type": "InvalidParameterValueException",
     "message": "memory_size: Ensure this value is at least 128.",
     "fields": {"memory_size": ["Ensure this value is at least 128."]}}

``fields`` is present on validation errors only; a throttle (429) adds ``reason`` and a
``Retry-After`` header. Service errors (``lambent.errors``) carry their own status; DRF's
own exceptions (parsing, authentication, permissions) are given the matching type, and
Django's refusals of a request (too many fields, a malformed multipart body) are 400s.
Anything else is a platform fault: logged with its traceback and answered 500 without
internals. The same shape answers outside the views too: ``handler400``, ``handler403``,
``handler404`` and ``handler500`` (``lambent.urls``) are the views below, so a path that
matches nothing is a JSON 404, not Django's HTML page. Only the admin keeps its HTML pages, and
the web console has its own (``console/<status>.html``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response

from lambent import errors

logger = logging.getLogger(__name__)

_DRF_TYPES: dict[type[exceptions.APIException], str] = {
    exceptions.ValidationError: "InvalidParameterValueException",
    exceptions.ParseError: "InvalidRequestContentException",
    exceptions.UnsupportedMediaType: "UnsupportedMediaTypeException",
    exceptions.NotAuthenticated: "UnauthorizedException",
    exceptions.AuthenticationFailed: "UnauthorizedException",
    exceptions.PermissionDenied: "AccessDeniedException",
    exceptions.NotFound: "ResourceNotFoundException",
    exceptions.MethodNotAllowed: "MethodNotAllowedException",
    exceptions.NotAcceptable: "NotAcceptableException",
    exceptions.Throttled: "TooManyRequestsException",
}


def error_response(*, status_code: int, error_type: str, message: str, fields: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"type": error_type, "message": message}
    if fields:
        body["fields"] = fields
    return Response(body, status=status_code, headers=headers)


def error_body(exc: errors.LambentError) -> dict[str, Any]:
    """The JSON body of a service error; platform errors are logged here, once."""
    if isinstance(exc, errors.PlatformError):
        logger.error("platform error: %s", exc.message, exc_info=exc)
    body: dict[str, Any] = {"type": exc.error_type, "message": exc.message}
    if isinstance(exc, errors.InvalidParameter) and exc.fields:
        body["fields"] = exc.fields
    if isinstance(exc, errors.Throttled):
        body["reason"] = exc.reason
    return body


def error_headers(exc: errors.LambentError) -> dict[str, str] | None:
    """The headers a service error is answered with: how to authenticate, when to retry."""
    if isinstance(exc, errors.Unauthenticated):
        return {"WWW-Authenticate": 'Bearer realm="lambent"'}
    if isinstance(exc, errors.Throttled):
        return {"Retry-After": str(exc.retry_after)}
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, RequestDataTooBig):
        exc = errors.RequestTooLarge(f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.")
    if isinstance(exc, SuspiciousOperation):
        exc = errors.UserError(f"The request was refused: {exc}")
    if isinstance(exc, errors.LambentError):
        return Response(error_body(exc), status=exc.status_code, headers=error_headers(exc))
    if isinstance(exc, Http404):
        return error_response(status_code=404, error_type="ResourceNotFoundException", message="Not found.")
    if isinstance(exc, exceptions.APIException):
        return _api_exception_response(exc)
    logger.error("unhandled error in %s", context.get("view"), exc_info=exc)
    return error_response(status_code=500, error_type="ServiceException", message="Internal error.")


def _api_exception_response(exc: exceptions.APIException) -> Response:
    error_type = next((name for cls, name in _DRF_TYPES.items() if isinstance(exc, cls)), "InvalidRequestException")
    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        message = " ".join(f"{name}: {_flatten(msgs)}" for name, msgs in fields.items())
        return error_response(status_code=status.HTTP_400_BAD_REQUEST, error_type=error_type, message=message,
                              fields=fields, headers=headers)
    return error_response(status_code=exc.status_code, error_type=error_type, message=str(exc.detail),
                          headers=headers)


def _flatten(messages: Any) -> str:
    if isinstance(messages, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in messages.items())
    if isinstance(messages, list):
        return " ".join(_flatten(message) for message in messages)
    return str(messages)


def _is_admin(request: HttpRequest) -> bool:
    return request.path.startswith("/admin/")


def _is_console(request: HttpRequest) -> bool:
    return request.path == "/console" or request.path.startswith("/console/")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_console(request):
        return defaults.bad_request(request, exception, template_name="console/400.html")
    if _is_admin(request):
        return defaults.bad_request(request, exception)
    return JsonResponse({"type": "InvalidRequestException", "message": f"The request was refused: {exception}"},
                        status=400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_console(request):
        return defaults.permission_denied(request, exception, template_name="console/403.html")
    if _is_admin(request):
        return defaults.permission_denied(request, exception)
    return JsonResponse({"type": "AccessDeniedException", "message": "Access denied."}, status=403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_console(request):
        return defaults.page_not_found(request, exception, template_name="console/404.html")
    if _is_admin(request):
        return defaults.page_not_found(request, exception)
    return JsonResponse({"type": "ResourceNotFoundException", "message": f"Nothing is at {request.path}."},
                        status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_console(request):
        return defaults.server_error(request, template_name="console/500.html")
    if _is_admin(request):
        return defaults.server_error(request)
    return JsonResponse({"type": "ServiceException", "message": "Internal error."}, status=500)
