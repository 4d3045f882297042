"""Invoking functions and recording each invocation in the ledger.

The synchronous path, in steps so the asynchronous view can await the executor on the
event loop and answer before the ledger is written: ``prepare_sync`` resolves the qualifier
to one immutable version and checks the payload, ``run`` hands the event to the executor
(``worker.executors``, the only way to reach one), and ``sync_ledger_row`` is what the
ledger keeps of it (the function's own failures included: they are results, not errors of
the call), for ``ledger_writer`` to write; the response's headers are read from it.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from django.utils import timezone

from lambent import jsonbody, metrics
from lambent.errors import InvalidParameter, RequestTooLarge, ServiceUnavailable, UserError
from lambent.functions import limits
from lambent.functions import selectors as function_selectors
from lambent.functions.models import Version
from lambent.iam.models import Tenant
from lambent.invocations import hot_cache
from lambent.invocations.hot_cache import Routing, Target
from lambent.invocations.ledger_writer import LedgerRow
from lambent.invocations.logs import lambda_log
from lambent.invocations.models import InvocationStatus, InvocationType, bounded_log
from worker import executors

logger = logging.getLogger(__name__)

#: Largest synchronous request and response payload, as Lambda.
SYNC_PAYLOAD_MAX_BYTES = 6 * 1024 * 1024


def function_spec(version: Version) -> executors.FunctionSpec:
    function = version.function
    return executors.FunctionSpec(
        account_id=function.tenant.account_id,
        function_name=function.name,
        version=version.version,
        function_arn=function.arn,
        runtime=version.runtime,
        handler=version.handler,
        memory_size=version.memory_size,
        timeout=version.timeout,
        ephemeral_storage=version.ephemeral_storage,
        code_sha256=version.code.sha256,
        fingerprint=version.fingerprint,
        environment=dict(version.environment),
    )


def check_payload(payload: bytes, *, limit: int) -> bytes:
    """The event as the function will see it; an empty body is ``{}``, anything else must be JSON
    (``lambent.jsonbody``: nested ``MAX_DEPTH`` levels at most), as Lambda's Invoke requires."""
    if len(payload) > limit:
        raise RequestTooLarge(f"Request must be smaller than {limit} bytes for the invoke operation.")
    if not payload.strip():
        return b"{}"
    try:
        jsonbody.parse(payload)
    except ValueError as exc:  # UnicodeDecodeError included
        raise UserError(f"Could not parse request body into json: {exc}") from None
    return payload


def check_client_context(given: str | None, *, field: str) -> str | None:
    """A caller's client context as the function will get it: base64 of a JSON object, at most
    ``limits.CLIENT_CONTEXT_MAX_BYTES`` as it came (Lambda's rules); ``InvalidParameter`` naming ``field``
    otherwise, before anything runs. None or empty: no client context."""
    if not given:
        return None
    if len(given) > limits.CLIENT_CONTEXT_MAX_BYTES:
        raise InvalidParameter.field(field, f"Client context must be at most {limits.CLIENT_CONTEXT_MAX_BYTES} "
                                            "bytes, base64-encoded.")
    try:
        if not isinstance(json.loads(base64.b64decode(given, validate=True)), dict):
            raise ValueError("not an object")
    except (binascii.Error, ValueError):
        raise InvalidParameter.field(field, "Client context must be a valid Base64-encoded JSON object.") from None
    return given  # the sandbox's agent hands it on, base64 as it came


@dataclass(frozen=True)
class Prepared:
    """A synchronous invocation ready to hand to the executor."""

    tenant: Tenant
    version: Version
    qualifier: str
    spec: executors.FunctionSpec
    request: executors.InvokeRequest
    started_at: datetime


def routing(*, tenant: Tenant, function_name: str, qualifier: str | None) -> Routing:
    """Where the qualifier sends invocations, with the executor's specs, read from the database
    and remembered a moment (``hot_cache.routes``, which the invoke views read first)."""
    primary, additional, weight = function_selectors.qualifier_routing(
        tenant=tenant, function_name=function_name, qualifier=qualifier)
    found = Routing(primary=Target(primary, function_spec(primary)),
                    additional=Target(additional, function_spec(additional)) if additional else None, weight=weight)
    hot_cache.routes.put(hot_cache.route_key(tenant.pk, function_name, qualifier), found)
    return found


def prepare_sync(*, tenant: Tenant, routing: Routing, qualifier: str | None, payload: bytes,
                 client_context: str | None = None) -> Prepared:
    """A checked invocation of the version the routing picks, before any code runs."""
    event = check_payload(payload, limit=SYNC_PAYLOAD_MAX_BYTES)
    target = routing.pick()
    function = target.version.function
    invoked_arn = f"{function.arn}:{qualifier}" if qualifier else function.arn
    request = executors.InvokeRequest(request_id=str(uuid.uuid4()), payload=event, invoked_function_arn=invoked_arn,
                                      client_context=client_context)
    return Prepared(tenant=tenant, version=target.version, qualifier=qualifier or "", spec=target.spec,
                    request=request, started_at=timezone.now())


async def run(prepared: Prepared) -> executors.InvokeResult:
    """The executor's result; the function's own failures are results too."""
    try:
        result = await executors.executor().invoke(prepared.spec, prepared.request)
    except executors.FunctionError as failure:
        result = failure.result
    except executors.ExecutorPlatformError as exc:
        # The details (socket paths, a sandbox's stderr) are the operator's: logged, never answered.
        logger.warning("invocation %s: the executor failed: %s", prepared.request.request_id, exc)
        raise ServiceUnavailable("The function could not be run: the executor failed or did not answer. "
                                 "Try again.") from exc
    if len(result.payload) > SYNC_PAYLOAD_MAX_BYTES:
        result = _response_too_large(result)
    return result


def sync_ledger_row(prepared: Prepared, result: executors.InvokeResult) -> LedgerRow:
    """The ledger row of a synchronous invocation, not yet saved; the invocation is counted in the metrics."""
    version, request = prepared.version, prepared.request
    function = version.function
    metrics.invocation_ran(tenant=prepared.tenant.account_id, function=function.name,
                           invocation_type=InvocationType.REQUEST_RESPONSE, failed=bool(result.function_error),
                           init_duration_ms=result.init_duration_ms)
    return LedgerRow(
        request_id=request.request_id, tenant_id=prepared.tenant.pk, function_id=function.pk,
        function_name=function.name, qualifier=prepared.qualifier, executed_version=version.version,
        status=InvocationStatus.FAILED if result.function_error else InvocationStatus.SUCCEEDED,
        function_error=result.function_error or "",
        started_at=prepared.started_at, finished_at=timezone.now(), duration_ms=result.duration_ms,
        billed_duration_ms=result.billed_duration_ms, max_memory_used_mb=result.max_memory_used_mb,
        init_duration_ms=result.init_duration_ms, error_type=result.error_type or "",
        error_message=error_message(result),
        log_tail=bounded_log(result_log(request_id=request.request_id, version=version, result=result)),
    )


def _response_too_large(result: executors.InvokeResult) -> executors.InvokeResult:
    message = f"Response payload size ({len(result.payload)} bytes) exceeded maximum allowed payload size " \
              f"({SYNC_PAYLOAD_MAX_BYTES} bytes)."
    payload = json.dumps({"errorType": "Function.ResponseSizeTooLarge", "errorMessage": message}).encode()
    return replace(result, payload=payload, function_error=executors.UNHANDLED,
                   error_type="Function.ResponseSizeTooLarge")


def error_message(result: executors.InvokeResult) -> str:
    """The ``errorMessage`` of a failed invocation's payload ("" when it succeeded)."""
    if not result.function_error:
        return ""
    try:
        return str(jsonbody.parse(result.payload).get("errorMessage", ""))
    except (ValueError, AttributeError):
        return result.payload[:1000].decode(errors="replace")


def result_log(*, request_id: str, version: Version, result: executors.InvokeResult) -> str:
    """The function's output followed by Lambda's END and REPORT lines."""
    return lambda_log(request_id=request_id, version=version.version, output=result.log,
                      duration_ms=result.duration_ms, billed_duration_ms=result.billed_duration_ms,
                      memory_size=version.memory_size, max_memory_used_mb=result.max_memory_used_mb,
                      init_duration_ms=result.init_duration_ms)
