"""``POST /api/v1/functions/{name}/invoke``: an asynchronous view on the hot path.

Invocations wait on sandboxes, so this view awaits the executor on the event loop
instead of holding a thread: many invocations run at once, and only the two database
steps (authenticate and prepare; record) go to Django's thread, once each. It speaks
the same errors as the REST views (``lambent.api.exceptions.error_body``).
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from lambent.api.exceptions import error_body
from lambent.errors import LambentError, Unauthenticated
from lambent.iam.authentication import authenticate
from lambent.invocations import services
from lambent.invocations.logs import tail_base64


def _prepare(request: HttpRequest, name: str) -> services.Prepared:
    key = authenticate(request.headers.get("Authorization", ""))
    return services.prepare_sync(
        tenant=key.tenant, function_name=name, qualifier=request.GET.get("qualifier"), payload=request.body,
        client_context=request.headers.get("X-Lambent-Client-Context"),
    )


@csrf_exempt
async def invoke(request: HttpRequest, name: str) -> HttpResponse:
    if request.method != "POST":
        return JsonResponse({"type": "MethodNotAllowedException", "message": f'Method "{request.method}" not allowed.'},
                            status=405, headers={"Allow": "POST"})
    try:
        prepared = await sync_to_async(_prepare)(request, name)
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
