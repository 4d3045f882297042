"""Invoke and InvokeAsync, on the same path as the native invoke (``lambent.invocations``): the
same routing, admission, executor and ledger, in Lambda's headers.

``X-Amz-Invocation-Type`` picks ``RequestResponse`` (the result, 200), ``Event`` (202 once the
invocation is durably queued; ``x-amzn-RequestId`` is its id in the ledger) or ``DryRun`` (204).
A synchronous answer carries ``X-Amz-Executed-Version``, ``X-Amz-Function-Error`` when the
function failed, and with ``X-Amz-Log-Type: Tail`` the last 4 KB of its log, base64-encoded, in
``X-Amz-Log-Result``. ``X-Amz-Client-Context`` (base64 JSON, at most 3583 bytes) reaches the
function's ``context.client_context``.
"""

from __future__ import annotations

from django.http import HttpResponse

from lambent.api.threads import on_database_thread
from lambent.errors import InvalidParameter
from lambent.iam.models import Tenant
from lambent.invocations import hot_cache, services
from lambent.invocations.accepting import accept_event
from lambent.invocations.api.invoke import run_recorded
from lambent.invocations.hot_cache import Routing
from lambent.invocations.logs import tail_base64
from lambent.invocations.models import InvocationType
from lambent.lambda_api.protocol import Call, respond
from lambent.lambda_api.references import Target, target
from lambent.lambda_api.routes import operation

_TYPES = frozenset(kind.value for kind in InvocationType)


async def _routing(tenant: Tenant, found: Target) -> Routing:
    """Where the call's qualifier sends it: remembered a moment (``hot_cache``), else from the database."""
    return (hot_cache.routes.get(hot_cache.route_key(tenant.pk, found.name, found.qualifier))
            or await _routing_from_database(tenant=tenant, function_name=found.name, qualifier=found.qualifier))


_routing_from_database = on_database_thread(services.routing)


async def _accept(call: Call, found: Target, routing: Routing, payload: bytes) -> str:
    invocation = await accept_event(tenant=call.tenant, function=routing.primary.version.function,
                                    qualifier=found.qualifier, payload=payload)
    return str(invocation.request_id)


def _client_context(call: Call) -> str | None:
    return services.check_client_context(call.headers.get("X-Amz-Client-Context"), field="ClientContext")


@operation("Invoke", "POST", "/2015-03-31/functions/{FunctionName}/invocations")
async def invoke(call: Call) -> HttpResponse:
    kind = call.headers.get("X-Amz-Invocation-Type") or InvocationType.REQUEST_RESPONSE.value
    if kind not in _TYPES:
        raise InvalidParameter.field("InvocationType", f"{kind!r} is not an invocation type: RequestResponse, "
                                                       "Event or DryRun.")
    log_type = call.headers.get("X-Amz-Log-Type") or "None"
    if log_type not in ("None", "Tail"):
        raise InvalidParameter.field("LogType", f"{log_type!r} is not a log type: None or Tail.")
    client_context = _client_context(call)
    found = target(call)
    routing = await _routing(call.tenant, found)
    if kind == InvocationType.EVENT:
        request_id = await _accept(call, found, routing, call.body)
        return respond(None, status=202, request_id=request_id)
    if kind == InvocationType.DRY_RUN:
        services.check_payload(call.body, limit=services.SYNC_PAYLOAD_MAX_BYTES)
        return respond(None, status=204, request_id=call.request_id)
    prepared = services.prepare_sync(tenant=call.tenant, routing=routing, qualifier=found.qualifier,
                                     payload=call.body, client_context=client_context)
    result, invocation = await run_recorded(prepared)
    response = HttpResponse(result.payload, content_type="application/json")
    response["x-amzn-RequestId"] = str(invocation.request_id)
    response["X-Amz-Executed-Version"] = invocation.executed_version
    if invocation.function_error:
        response["X-Amz-Function-Error"] = invocation.function_error
    if log_type == "Tail":
        response["X-Amz-Log-Result"] = tail_base64(invocation.log_tail)
    return response


@operation("InvokeAsync", "POST", "/2014-11-13/functions/{FunctionName}/invoke-async")
async def invoke_async(call: Call) -> HttpResponse:
    found = target(call)
    routing = await _routing(call.tenant, found)
    request_id = await _accept(call, found, routing, call.body)
    return respond({"Status": 202}, status=202, request_id=request_id)
