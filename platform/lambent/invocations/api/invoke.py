"""``POST /api/v1/functions/{name}/invoke``: an asynchronous view on the hot path.

Invocations wait on sandboxes, so this view awaits the executor on the event loop
instead of holding a thread: many invocations run at once. The database steps go to
Django's thread: authenticating and resolving the qualifier (skipped while
``hot_cache`` remembers both), and recording the invocation in the ledger. It speaks
the same errors as the REST views (``lambent.api.exceptions.error_body``).
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from lambent.api.exceptions import error_body
from lambent.errors import LambentError, Unauthenticated
from lambent.iam.authentication import authenticate
from lambent.invocations import hot_cache, services
from lambent.invocations.logs import tail_base64


def _prepare_from_cache(request: HttpRequest, name: str) -> services.Prepared | None:
    """The invocation, if this process saw its key and its qualifier a moment ago (no database)."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    key = hot_cache.keys.get(hot_cache.header_key(credentials)) if scheme == "Bearer" else None
    qualifier = request.GET.get("qualifier")
    routing = hot_cache.routes.get((key.tenant_id, name, qualifier or "")) if key is not None else None
    if key is None or routing is None:
        return None
    return services.prepare_sync(tenant=key.tenant, routing=routing, qualifier=qualifier, payload=request.body,
                                 client_context=request.headers.get("X-Lambent-Client-Context"))


def _prepare_from_database(request: HttpRequest, name: str) -> services.Prepared:
    header = request.headers.get("Authorization", "")
    key = authenticate(header)
    hot_cache.keys.put(hot_cache.header_key(header.partition(" ")[2]), key)
    qualifier = request.GET.get("qualifier")
    routing = services.routing(tenant=key.tenant, function_name=name, qualifier=qualifier)
    hot_cache.routes.put((key.tenant_id, name, qualifier or ""), routing)
    return services.prepare_sync(tenant=key.tenant, routing=routing, qualifier=qualifier, payload=request.body,
                                 client_context=request.headers.get("X-Lambent-Client-Context"))


@csrf_exempt
async def invoke(request: HttpRequest, name: str) -> HttpResponse:
    if request.method != "POST":
        return JsonResponse({"type": "MethodNotAllowedException", "message": f'Method "{request.method}" not allowed.'},
                            status=405, headers={"Allow": "POST"})
    try:
        prepared = _prepare_from_cache(request, name) or await sync_to_async(_prepare_from_database)(request, name)
        result = await services.run(prepared)
        outcome = await sync_to_async(services.record_sync)(prepared, result)
    except LambentError as exc:
        headers = {"WWW-Authenticate": 'Bearer realm="lambent"'} if isinstance(exc, Unauthenticated) else None
        return JsonResponse(error_body(exc), status=exc.status_code, headers=headers)
    response = HttpResponse(outcome.payload, content_type="application/json")
    response["X-Lambent-Request-Id"] = str(outcome.invocation.request_id)
    response["X-Lambent-Executed-Version"] = outcome.invocation.executed_version
    if outcome.function_error:
        response["X-Lambent-Function-Error"] = outcome.function_error
    if request.GET.get("log") == "tail":
        response["X-Lambent-Log-Result"] = tail_base64(outcome.invocation.log_tail)
    return response
