"""Reads of features this installation does not have, answered truthfully: no layers, event
source mappings, function URLs or code signing configs to list, none found by name, a function's
defaults. Infrastructure tools read these for every function they manage (Terraform reads a
function's code signing config, for one); a 400 there would stop them, an honest "none" does not.
Writes to these features stay unsupported (``routes.UNSUPPORTED``).

Recursive loops are the one exception with a write: Lambent stops them as Lambda does
(``RecursiveLoop: Terminate``, ``lambent.invocations.destinations``), and cannot allow them.
"""

from __future__ import annotations

from django.http import HttpResponse

from lambent.errors import InvalidParameter, NotFound
from lambent.functions import selectors
from lambent.lambda_api import protocol as p
from lambent.lambda_api.protocol import Call, respond
from lambent.lambda_api.references import target
from lambent.lambda_api.routes import operation

NOT_FOUND = "The resource you requested does not exist."


def _function_name(call: Call, *, qualified: bool = False) -> str:
    """The function the call names, which must exist (404 otherwise, as for any operation on it)."""
    found = target(call, qualified=qualified)
    if found.qualifier:
        selectors.qualifier_routing(tenant=call.tenant, function_name=found.name, qualifier=found.qualifier)
    return selectors.function_get(tenant=call.tenant, name=found.name).name


def _empty_list(call: Call, member: str) -> HttpResponse:
    return respond(p.listing(member, [], call.query, list), request_id=call.request_id)


@operation("GetFunctionCodeSigningConfig", "GET", "/2020-06-30/functions/{FunctionName}/code-signing-config")
def get_function_code_signing_config(call: Call) -> HttpResponse:
    return respond({"CodeSigningConfigArn": "", "FunctionName": _function_name(call)}, request_id=call.request_id)


@operation("GetFunctionRecursionConfig", "GET", "/2024-08-31/functions/{FunctionName}/recursion-config")
def get_function_recursion_config(call: Call) -> HttpResponse:
    _function_name(call)
    return respond({"RecursiveLoop": "Terminate"}, request_id=call.request_id)


@operation("PutFunctionRecursionConfig", "PUT", "/2024-08-31/functions/{FunctionName}/recursion-config")
def put_function_recursion_config(call: Call) -> HttpResponse:
    _function_name(call)
    if call.json().get("RecursiveLoop") != "Terminate":
        raise InvalidParameter.field("RecursiveLoop", "Only Terminate is supported here: recursive loops of "
                                                      "function destinations are always stopped.")
    return respond({"RecursiveLoop": "Terminate"}, request_id=call.request_id)


@operation("GetRuntimeManagementConfig", "GET", "/2021-07-20/functions/{FunctionName}/runtime-management-config")
def get_runtime_management_config(call: Call) -> HttpResponse:
    found = target(call)
    version = selectors.qualifier_routing(tenant=call.tenant, function_name=found.name, qualifier=found.qualifier)[0]
    arn = f"{version.function.arn}:{found.qualifier}" if found.qualifier else version.function.arn
    return respond({"UpdateRuntimeOn": "Auto", "FunctionArn": arn}, request_id=call.request_id)


@operation("ListFunctionUrlConfigs", "GET", "/2021-10-31/functions/{FunctionName}/urls")
def list_function_url_configs(call: Call) -> HttpResponse:
    _function_name(call)
    return _empty_list(call, "FunctionUrlConfigs")


@operation("GetFunctionUrlConfig", "GET", "/2021-10-31/functions/{FunctionName}/url")
def get_function_url_config(call: Call) -> HttpResponse:
    _function_name(call, qualified=True)
    raise NotFound(NOT_FOUND)


@operation("ListEventSourceMappings", "GET", "/2015-03-31/event-source-mappings")
def list_event_source_mappings(call: Call) -> HttpResponse:
    return _empty_list(call, "EventSourceMappings")  # whatever FunctionName or EventSourceArn filters


@operation("GetEventSourceMapping", "GET", "/2015-03-31/event-source-mappings/{UUID}")
def get_event_source_mapping(call: Call) -> HttpResponse:
    raise NotFound(NOT_FOUND)


@operation("ListLayers", "GET", "/2018-10-31/layers")
def list_layers(call: Call) -> HttpResponse:
    return _empty_list(call, "Layers")


@operation("ListLayerVersions", "GET", "/2018-10-31/layers/{LayerName}/versions")
def list_layer_versions(call: Call) -> HttpResponse:
    return _empty_list(call, "LayerVersions")


@operation("GetLayerVersion", "GET", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}")
def get_layer_version(call: Call) -> HttpResponse:
    raise NotFound(NOT_FOUND)


@operation("ListCodeSigningConfigs", "GET", "/2020-04-22/code-signing-configs")
def list_code_signing_configs(call: Call) -> HttpResponse:
    return _empty_list(call, "CodeSigningConfigs")
