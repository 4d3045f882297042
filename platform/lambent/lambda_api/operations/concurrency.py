"""Reserved and provisioned concurrency: Put/Get/DeleteFunctionConcurrency and
Put/Get/Delete/ListProvisionedConcurrencyConfig(s), over ``lambent.quotas``."""

from __future__ import annotations

from django.http import HttpResponse

from lambent.errors import InvalidParameter
from lambent.functions import selectors as function_selectors
from lambent.functions import services as function_services
from lambent.lambda_api import protocol as p
from lambent.lambda_api import shapes
from lambent.lambda_api.protocol import Call, respond
from lambent.lambda_api.references import target
from lambent.lambda_api.routes import operation
from lambent.quotas import selectors, services


@operation("PutFunctionConcurrency", "PUT", "/2017-10-31/functions/{FunctionName}/concurrency")
def put_function_concurrency(call: Call) -> HttpResponse:
    body = call.json()
    name = target(call, qualified=False).name
    reservation = services.reservation_put(tenant=call.tenant, function_name=name,
                                           reserved_concurrent_executions=p.required(
                                               body, "ReservedConcurrentExecutions"))
    return respond({"ReservedConcurrentExecutions": reservation.reserved_concurrent_executions},
                   request_id=call.request_id)


@operation("GetFunctionConcurrency", "GET", "/2019-09-30/functions/{FunctionName}/concurrency")
def get_function_concurrency(call: Call) -> HttpResponse:
    name = target(call, qualified=False).name
    reservation = selectors.reservation_get(tenant=call.tenant, function_name=name)
    body = {"ReservedConcurrentExecutions": reservation.reserved_concurrent_executions} if reservation else {}
    return respond(body, request_id=call.request_id)


@operation("DeleteFunctionConcurrency", "DELETE", "/2017-10-31/functions/{FunctionName}/concurrency")
def delete_function_concurrency(call: Call) -> HttpResponse:
    services.reservation_delete(tenant=call.tenant, function_name=target(call, qualified=False).name)
    return respond(None, status=204, request_id=call.request_id)


def _qualifier(call: Call) -> tuple[str, str]:
    found = target(call)
    if not found.qualifier:
        raise InvalidParameter.field("Qualifier", "Qualifier is required: a published version or an alias.")
    return found.name, found.qualifier


@operation("PutProvisionedConcurrencyConfig", "PUT", "/2019-09-30/functions/{FunctionName}/provisioned-concurrency")
def put_provisioned_concurrency_config(call: Call) -> HttpResponse:
    body = call.json()
    name, qualifier = _qualifier(call)
    requested = p.integer(body, "ProvisionedConcurrentExecutions")
    if requested is None:
        raise InvalidParameter.field("ProvisionedConcurrentExecutions", "ProvisionedConcurrentExecutions is required.")
    config = services.provisioned_put(tenant=call.tenant, function_name=name, qualifier=qualifier,
                                      requested=requested)
    return respond(shapes.provisioned_config(config), status=202, request_id=call.request_id)


@operation("ListProvisionedConcurrencyConfigs", "GET",
           "/2019-09-30/functions/{FunctionName}/provisioned-concurrency?List=ALL")
def list_provisioned_concurrency_configs(call: Call) -> HttpResponse:
    name = target(call, qualified=False).name
    configs = function_selectors.provisioned_config_list(tenant=call.tenant, function_name=name)
    body = p.listing("ProvisionedConcurrencyConfigs", configs, call.query,
                     lambda page: [shapes.provisioned_config(config, listed=True) for config in page])
    return respond(body, request_id=call.request_id)


@operation("GetProvisionedConcurrencyConfig", "GET", "/2019-09-30/functions/{FunctionName}/provisioned-concurrency")
def get_provisioned_concurrency_config(call: Call) -> HttpResponse:
    name, qualifier = _qualifier(call)
    config = function_selectors.provisioned_config_get(tenant=call.tenant, function_name=name, qualifier=qualifier)
    return respond(shapes.provisioned_config(config), request_id=call.request_id)


@operation("DeleteProvisionedConcurrencyConfig", "DELETE",
           "/2019-09-30/functions/{FunctionName}/provisioned-concurrency")
def delete_provisioned_concurrency_config(call: Call) -> HttpResponse:
    name, qualifier = _qualifier(call)
    function_services.provisioned_config_delete(tenant=call.tenant, function_name=name, qualifier=qualifier)
    return respond(None, status=204, request_id=call.request_id)
