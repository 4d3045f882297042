"""Aliases: CreateAlias, GetAlias, UpdateAlias, DeleteAlias, ListAliases, with
``RoutingConfig.AdditionalVersionWeights``."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse

from lambent.errors import InvalidParameter
from lambent.functions import selectors, services
from lambent.lambda_api import protocol as p
from lambent.lambda_api import shapes
from lambent.lambda_api.protocol import Call, respond
from lambent.lambda_api.references import target
from lambent.lambda_api.routes import operation


def _weights(body: dict[str, Any]) -> dict[str, float] | None:
    routing = p.mapping(body, "RoutingConfig")
    if routing is None:
        return None
    weights = routing.get("AdditionalVersionWeights") or {}
    if not isinstance(weights, dict):
        raise InvalidParameter.field("RoutingConfig", "AdditionalVersionWeights must map a version to a weight.")
    return weights


@operation("CreateAlias", "POST", "/2015-03-31/functions/{FunctionName}/aliases")
def create_alias(call: Call) -> HttpResponse:
    body = call.json()
    name = target(call, qualified=False).name
    alias = services.alias_create(tenant=call.tenant, function_name=name, name=p.required(body, "Name"),
                                  function_version=p.required(body, "FunctionVersion"),
                                  additional_version_weights=_weights(body),
                                  description=p.text(body, "Description", default="") or "")
    return respond(shapes.alias_configuration(alias), status=201, request_id=call.request_id)


@operation("GetAlias", "GET", "/2015-03-31/functions/{FunctionName}/aliases/{Name}")
def get_alias(call: Call) -> HttpResponse:
    name = target(call, qualified=False).name
    alias = selectors.alias_get(tenant=call.tenant, function_name=name, name=call.params["Name"])
    return respond(shapes.alias_configuration(alias), request_id=call.request_id)


@operation("UpdateAlias", "PUT", "/2015-03-31/functions/{FunctionName}/aliases/{Name}")
def update_alias(call: Call) -> HttpResponse:
    body = call.json()
    name = target(call, qualified=False).name
    changes: dict[str, Any] = {}
    if body.get("FunctionVersion") is not None:
        changes["function_version"] = p.text(body, "FunctionVersion")
    if body.get("Description") is not None:
        changes["description"] = p.text(body, "Description")
    weights = _weights(body)
    if weights is not None:
        changes["additional_version_weights"] = weights
    alias = services.alias_update(tenant=call.tenant, function_name=name, name=call.params["Name"], changes=changes,
                                  revision_id=p.revision(body.get("RevisionId")))
    return respond(shapes.alias_configuration(alias), request_id=call.request_id)


@operation("DeleteAlias", "DELETE", "/2015-03-31/functions/{FunctionName}/aliases/{Name}")
def delete_alias(call: Call) -> HttpResponse:
    name = target(call, qualified=False).name
    services.alias_delete(tenant=call.tenant, function_name=name, name=call.params["Name"])
    return respond(None, status=204, request_id=call.request_id)


@operation("ListAliases", "GET", "/2015-03-31/functions/{FunctionName}/aliases")
def list_aliases(call: Call) -> HttpResponse:
    name = target(call, qualified=False).name
    aliases = selectors.alias_list(tenant=call.tenant, function_name=name)
    version = call.query.get("FunctionVersion")
    if version:
        number = selectors.version_number(version)
        aliases = aliases.filter(version__number=-1 if number is None else number)
    body = p.listing("Aliases", aliases, call.query, lambda page: [shapes.alias_configuration(alias) for alias in page])
    return respond(body, request_id=call.request_id)
