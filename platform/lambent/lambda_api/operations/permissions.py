"""Resource-based policies and tags: AddPermission, RemovePermission, GetPolicy, TagResource,
UntagResource, ListTags (tags are on functions, named by their ARN)."""

from __future__ import annotations

import json

from django.http import HttpResponse

from lambent.errors import InvalidParameter
from lambent.functions import policies, selectors, tags
from lambent.lambda_api import protocol as p
from lambent.lambda_api.protocol import Call, respond
from lambent.lambda_api.references import resolve, target
from lambent.lambda_api.routes import operation


@operation("AddPermission", "POST", "/2015-03-31/functions/{FunctionName}/policy")
def add_permission(call: Call) -> HttpResponse:
    body = call.json()
    found = target(call)
    permission = policies.Permission(
        statement_id=p.text(body, "StatementId") or "", action=p.text(body, "Action") or "",
        principal=p.text(body, "Principal") or "", source_arn=p.text(body, "SourceArn"),
        source_account=p.text(body, "SourceAccount"), principal_org_id=p.text(body, "PrincipalOrgID"),
        event_source_token=p.text(body, "EventSourceToken"))
    statement = policies.permission_add(tenant=call.tenant, function_name=found.name, qualifier=found.qualifier,
                                        permission=permission, revision_id=p.revision(body.get("RevisionId")))
    return respond({"Statement": json.dumps(statement)}, status=201, request_id=call.request_id)


@operation("RemovePermission", "DELETE", "/2015-03-31/functions/{FunctionName}/policy/{StatementId}")
def remove_permission(call: Call) -> HttpResponse:
    found = target(call)
    policies.permission_remove(tenant=call.tenant, function_name=found.name, qualifier=found.qualifier,
                               statement_id=call.params["StatementId"],
                               revision_id=p.revision(call.query.get("RevisionId")))
    return respond(None, status=204, request_id=call.request_id)


@operation("GetPolicy", "GET", "/2015-03-31/functions/{FunctionName}/policy")
def get_policy(call: Call) -> HttpResponse:
    found = target(call)
    document, revision_id = policies.policy_get(tenant=call.tenant, function_name=found.name,
                                                qualifier=found.qualifier)
    return respond({"Policy": json.dumps(document), "RevisionId": revision_id}, request_id=call.request_id)


def _function_of(call: Call) -> str:
    """The function a tag operation's ``Resource`` ARN names (unqualified, as Lambda requires)."""
    resource = call.params["Resource"]
    if not resource.startswith("arn:"):
        raise InvalidParameter.field("Resource", f"{resource!r} is not a function ARN.")
    return resolve(call, resource, qualifier=None, qualified=False).name


@operation("TagResource", "POST", "/2017-03-31/tags/{Resource}")
def tag_resource(call: Call) -> HttpResponse:
    given = p.mapping(call.json(), "Tags")
    if not given:
        raise InvalidParameter.field("Tags", "Tags is required: at least one key and value.")
    tags.tags_set(tenant=call.tenant, function_name=_function_of(call), tags=given)
    return respond(None, status=204, request_id=call.request_id)


@operation("UntagResource", "DELETE", "/2017-03-31/tags/{Resource}")
def untag_resource(call: Call) -> HttpResponse:
    keys = call.query.getlist("tagKeys")
    if not keys:
        raise InvalidParameter.field("TagKeys", "TagKeys is required: at least one key.")
    tags.tags_remove(tenant=call.tenant, function_name=_function_of(call), keys=keys)
    return respond(None, status=204, request_id=call.request_id)


@operation("ListTags", "GET", "/2017-03-31/tags/{Resource}")
def list_tags(call: Call) -> HttpResponse:
    function = selectors.function_get(tenant=call.tenant, name=_function_of(call))
    return respond({"Tags": dict(function.tags)}, request_id=call.request_id)
