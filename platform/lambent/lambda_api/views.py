"""The one view of the Lambda API: match the operation, verify the signature, run the handler.

Routes are botocore's dated paths at the server's root (``/2015-03-31/functions``, ...), so an
SDK needs only ``endpoint_url``. The signature is verified against the path as it arrived,
still percent-encoded (ASGI's ``raw_path``), as SigV4 requires.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from lambent import errors
from lambent.api.threads import on_database_thread
from lambent.iam import sigv4
from lambent.iam.authentication import check_may_act
from lambent.iam.models import AccessKey, Tenant
from lambent.invocations import hot_cache
from lambent.lambda_api import operations, routes  # noqa: F401 - operations registers the handlers
from lambent.lambda_api.protocol import Call, UnsupportedOperation, error_response, unexpected_error


@csrf_exempt
async def dispatch(request: HttpRequest) -> HttpResponse:
    call_id = Call.new_request_id()
    try:
        found = routes.match(request.method or "GET", request.path, request.GET)
        if found is None:
            raise errors.NotFound(f"No Lambda operation is {request.method} {request.path}.")
        route, params = found
        if route.handler is None:
            raise UnsupportedOperation(f"This installation does not support the Lambda operation {route.operation}.")
        signed = sigv4.SignedRequest.of(request)
        base_url = request.build_absolute_uri("/").rstrip("/")
        if route.asynchronous:  # an invocation: the hot path, on the long-lived database threads
            parsed = sigv4.parse(signed, regions=settings.SIGNING_REGIONS)
            cached = hot_cache.signing_keys.get((parsed.access_key_id, *parsed.scope))
            tenant = _check(parsed, cached) if cached else await on_database_thread(_authenticate)(parsed)
            call = Call(tenant=tenant, params=params, query=request.GET, headers=request.headers, body=signed.body,
                        request_id=call_id, base_url=base_url)
            response: HttpResponse = await route.handler(call)
            return response
        # Anything else runs on a thread of its own, as Django runs a sync view: a slow one (a
        # large upload) never holds up the invocations that share the database threads.
        return await sync_to_async(_run)(route.handler, signed, params=params, query=request.GET,
                                         headers=request.headers, request_id=call_id, base_url=base_url)
    except errors.LambentError as exc:
        return error_response(exc, request_id=call_id)
    except RequestDataTooBig:
        too_large = errors.RequestTooLarge(
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.")
        return error_response(too_large, request_id=call_id)
    except SuspiciousOperation as exc:  # too many query parameters, say
        return error_response(errors.UserError(f"The request was refused: {exc}"), request_id=call_id)
    except Exception as exc:  # noqa: BLE001 - answered as Lambda's ServiceException, logged
        return unexpected_error(exc, request_id=call_id)


def _run(handler: Callable[[Call], HttpResponse], signed: sigv4.SignedRequest, **call: Any) -> HttpResponse:
    tenant = _authenticate(sigv4.parse(signed, regions=settings.SIGNING_REGIONS))
    return handler(Call(tenant=tenant, body=signed.body, **call))


def _authenticate(parsed: sigv4.Parsed) -> Tenant:
    """The tenant whose key made the signature. The key derived for the signature's day, region
    and service is remembered (``hot_cache``), so the next requests verify without the database."""
    cache_key = (parsed.access_key_id, *parsed.scope)
    cached = hot_cache.signing_keys.get(cache_key)
    if cached is None:
        key, secret = sigv4.access_key(parsed.access_key_id)
        try:
            check_may_act(key)
        except errors.AccessDenied as exc:
            raise errors.UnrecognizedClient(exc.message) from None
        cached = (key, sigv4.signing_key(secret, *parsed.scope))
        tenant = _check(parsed, cached)
        hot_cache.signing_keys.put(cache_key, cached)
        return tenant
    return _check(parsed, cached)


def _check(parsed: sigv4.Parsed, cached: tuple[AccessKey, bytes]) -> Tenant:
    key, derived = cached
    sigv4.check(parsed, derived)
    return key.tenant
