"""``POST /api/v1/functions/{name}/invoke``: an asynchronous view on the hot path.

The invocation type comes from the ``X-Lambent-Invocation-Type`` header or the ``type``
query parameter (``RequestResponse``, the default; ``Event``; ``DryRun``; any case).
A synchronous invocation waits on a sandbox, so this view awaits the executor on the
event loop instead of holding a thread: many invocations run at once. The database steps
run on long-lived threads (``lambent.api.threads``): authenticating and resolving the
qualifier (skipped while ``hot_cache`` remembers both), writing the invocation's ledger row
(in batches, after the response: ``ledger_writer``), and accepting an ``Event`` (202 once
its row and outbox message are committed and handed to the broker).
A synchronous invocation runs holding a concurrency slot (``lambent.quotas.admission``),
taken right before the executor is called and given back right after, whatever happens
(kept by the process for the next invocation a moment: ``lambent.quotas.slots``);
over the function's reservation or the tenant's unreserved pool it answers 429 with a
``reason`` and ``Retry-After``, without running anything.
It speaks the same errors as the REST views (``lambent.api.exceptions.error_body``). Its headers
are read from ``request.META``: ``request.headers`` rebuilds every header's name on first use.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from lambent.api.exceptions import error_body, error_headers
from lambent.api.threads import on_database_thread
from lambent.errors import InvalidParameter, LambentError
from lambent.iam.authentication import authenticate
from lambent.iam.models import Tenant
from lambent.invocations import hot_cache, ledger_writer, services
from lambent.invocations.accepting import accept_event
from lambent.invocations.hot_cache import Routing
from lambent.invocations.ledger_writer import LedgerRow
from lambent.invocations.logs import tail_base64
from lambent.invocations.models import InvocationType
from lambent.quotas import slots
from lambent.quotas.admission import Pool
from worker import executors

logger = logging.getLogger(__name__)

_TYPES = {kind.value.lower(): kind.value for kind in InvocationType}


def invocation_type(request: HttpRequest) -> str:
    given = request.META.get("HTTP_X_LAMBENT_INVOCATION_TYPE") or request.GET.get("type") or "RequestResponse"
    try:
        return _TYPES[given.lower()]
    except KeyError:
        raise InvalidParameter.field(
            "invocation_type", f"{given!r} is not an invocation type; use RequestResponse, Event or DryRun.") from None


def _resolve_from_cache(request: HttpRequest, name: str) -> tuple[Tenant, Routing] | None:
    """The tenant and routing, if this process saw the key and the qualifier a moment ago (no database)."""
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    key = hot_cache.keys.get(hot_cache.header_key(credentials)) if scheme == "Bearer" else None
    qualifier = request.GET.get("qualifier")
    routing = hot_cache.routes.get(hot_cache.route_key(key.tenant_id, name, qualifier)) if key else None
    return (key.tenant, routing) if key is not None and routing is not None else None


@on_database_thread
def _resolve_from_database(request: HttpRequest, name: str) -> tuple[Tenant, Routing]:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    key = authenticate(header)
    hot_cache.keys.put(hot_cache.header_key(header.partition(" ")[2]), key)
    return key.tenant, services.routing(tenant=key.tenant, function_name=name, qualifier=request.GET.get("qualifier"))


async def _accept(request: HttpRequest, tenant: Tenant, routing: Routing) -> HttpResponse:
    invocation = await accept_event(tenant=tenant, function=routing.primary.version.function,
                                    qualifier=request.GET.get("qualifier"), payload=request.body)
    request_id = str(invocation.request_id)
    return JsonResponse({"request_id": request_id, "status": invocation.status}, status=202,
                        headers={"X-Lambent-Request-Id": request_id})


_pool_from_database = on_database_thread(hot_cache.pool)


async def run_recorded(prepared: services.Prepared) -> tuple[executors.InvokeResult, LedgerRow]:
    """Run holding a slot of the function's concurrency pool, given back on every path; then
    hand the invocation's ledger row to the writer. The row carries what the response says."""
    function = prepared.version.function
    pool: Pool = hot_cache.pools.get(function.pk) or await _pool_from_database(function=function)
    kept = await slots.keeper.take(pool=pool)
    try:
        result = await services.run(prepared)
    finally:
        slots.keeper.give_back(kept)
    invocation = services.sync_ledger_row(prepared, result)
    await ledger_writer.record(invocation)
    return result, invocation


def _dry_run(request: HttpRequest) -> HttpResponse:
    services.check_payload(request.body, limit=services.SYNC_PAYLOAD_MAX_BYTES)
    return HttpResponse(status=204)


@csrf_exempt
async def invoke(request: HttpRequest, name: str) -> HttpResponse:
    if request.method != "POST":
        return JsonResponse({"type": "MethodNotAllowedException", "message": f'Method "{request.method}" not allowed.'},
                            status=405, headers={"Allow": "POST"})
    try:
        kind = invocation_type(request)
        client_context = services.check_client_context(request.META.get("HTTP_X_LAMBENT_CLIENT_CONTEXT"),
                                                       field="client_context")  # whatever the type, as Lambda
        tenant, routing = _resolve_from_cache(request, name) or await _resolve_from_database(request, name)
        if kind == InvocationType.EVENT:
            return await _accept(request, tenant, routing)
        if kind == InvocationType.DRY_RUN:
            return _dry_run(request)
        prepared = services.prepare_sync(tenant=tenant, routing=routing, qualifier=request.GET.get("qualifier"),
                                         payload=request.body, client_context=client_context)
        result, invocation = await run_recorded(prepared)
    except LambentError as exc:
        return JsonResponse(error_body(exc), status=exc.status_code, headers=error_headers(exc))
    response = HttpResponse(result.payload, content_type="application/json")
    response["X-Lambent-Request-Id"] = str(invocation.request_id)
    response["X-Lambent-Executed-Version"] = invocation.executed_version
    if invocation.function_error:
        response["X-Lambent-Function-Error"] = invocation.function_error
    if request.GET.get("log") == "tail":
        response["X-Lambent-Log-Result"] = tail_base64(invocation.log_tail)
    return response
