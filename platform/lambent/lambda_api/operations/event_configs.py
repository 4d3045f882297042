"""Asynchronous invocation configs: Put/Update/Get/Delete/ListFunctionEventInvokeConfig(s). Destinations
are ARNs of Lambent functions and queues (or webhook URLs), checked by ``lambent.invocations``."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse

from lambent.errors import InvalidParameter
from lambent.invocations import event_configs
from lambent.invocations.event_configs import EventInvokeChanges
from lambent.lambda_api import protocol as p
from lambent.lambda_api import shapes
from lambent.lambda_api.protocol import Call, respond
from lambent.lambda_api.references import target
from lambent.lambda_api.routes import operation

PATH = "/2019-09-25/functions/{FunctionName}/event-invoke-config"


def _destination(destinations: dict[str, Any], member: str, *, replace: bool) -> str | None:
    given = destinations.get(member)
    if given is None:
        return "" if replace else None
    if not isinstance(given, dict):
        raise InvalidParameter.field("DestinationConfig", f"DestinationConfig.{member} must be an object.")
    return p.text(given, "Destination") or ""


def _changes(body: dict[str, Any], *, replace: bool) -> EventInvokeChanges:
    destinations = p.mapping(body, "DestinationConfig")
    return EventInvokeChanges(
        maximum_retry_attempts=p.integer(body, "MaximumRetryAttempts"),
        maximum_event_age_seconds=p.integer(body, "MaximumEventAgeInSeconds"),
        on_success=_destination(destinations or {}, "OnSuccess", replace=replace or destinations is not None),
        on_failure=_destination(destinations or {}, "OnFailure", replace=replace or destinations is not None),
    )


def _put(call: Call, *, replace: bool) -> HttpResponse:
    found = target(call)
    config = event_configs.event_invoke_config_put(tenant=call.tenant, function_name=found.name,
                                                   qualifier=found.qualifier,
                                                   changes=_changes(call.json(), replace=replace), replace=replace)
    return respond(shapes.event_invoke_config(config), request_id=call.request_id)


@operation("PutFunctionEventInvokeConfig", "PUT", PATH)
def put_function_event_invoke_config(call: Call) -> HttpResponse:
    return _put(call, replace=True)


@operation("UpdateFunctionEventInvokeConfig", "POST", PATH)
def update_function_event_invoke_config(call: Call) -> HttpResponse:
    return _put(call, replace=False)


@operation("GetFunctionEventInvokeConfig", "GET", PATH)
def get_function_event_invoke_config(call: Call) -> HttpResponse:
    found = target(call)
    config = event_configs.event_invoke_config_get(tenant=call.tenant, function_name=found.name,
                                                   qualifier=found.qualifier)
    return respond(shapes.event_invoke_config(config), request_id=call.request_id)


@operation("DeleteFunctionEventInvokeConfig", "DELETE", PATH)
def delete_function_event_invoke_config(call: Call) -> HttpResponse:
    found = target(call)
    event_configs.event_invoke_config_delete(tenant=call.tenant, function_name=found.name, qualifier=found.qualifier)
    return respond(None, status=204, request_id=call.request_id)


@operation("ListFunctionEventInvokeConfigs", "GET", PATH + "/list")
def list_function_event_invoke_configs(call: Call) -> HttpResponse:
    name = target(call, qualified=False).name
    configs = event_configs.event_invoke_config_list(tenant=call.tenant, function_name=name).order_by("qualifier")
    body = p.listing("FunctionEventInvokeConfigs", configs, call.query,
                     lambda page: [shapes.event_invoke_config(config) for config in page])
    return respond(body, request_id=call.request_id)
