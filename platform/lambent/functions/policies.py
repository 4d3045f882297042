"""A function's resource-based policy: who may act on it (Lambda's AddPermission, RemovePermission,
GetPolicy).

Each statement is stored as the JSON Lambda returns, for the function itself or one of its
versions or aliases; the policy of a qualifier is the document of its statements.
``resource_policy`` hands them to the policy engine (``lambent.iam.policies``), which this app
registers it with; the APIs do not consult the engine yet.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from lambent.errors import Conflict, InvalidParameter, NotFound, PreconditionFailed
from lambent.functions import selectors
from lambent.functions.models import LATEST, Function, PolicyStatement
from lambent.iam.models import Tenant
from lambent.iam.policies.documents import VERSION, Policy, compile_document

SID_PATTERN = r"^[a-zA-Z0-9\-_]{1,100}$"
ACTION_PATTERN = r"^(lambda:[*]|lambda:[a-zA-Z]+|[*])$"
_ACCOUNT = re.compile(r"^\d{12}$")
_FUNCTION_ARN = re.compile(r"^arn:[^:]+:lambda:[^:]*:(?P<account>\d{12}):function:(?P<name>[^:]+)(?::[^:]+)?$")


@dataclass(frozen=True)
class Permission:
    """What AddPermission asks for."""

    statement_id: str
    action: str
    principal: str
    source_arn: str | None = None
    source_account: str | None = None
    principal_org_id: str | None = None
    event_source_token: str | None = None


def permission_add(*, tenant: Tenant, function_name: str, qualifier: str | None, permission: Permission,
                   revision_id: uuid.UUID | None = None) -> dict[str, Any]:
    """Add a statement; returns it. A statement id already used on this qualifier is a 409."""
    _check(permission)
    with transaction.atomic():
        function, resource = _resource(tenant=tenant, function_name=function_name, qualifier=qualifier)
        _check_revision(function, qualifier=qualifier, given=revision_id)
        statement = _statement(permission, resource=resource)
        try:
            with transaction.atomic():
                PolicyStatement.objects.create(function=function, qualifier=qualifier or "",
                                               sid=permission.statement_id, statement=statement)
        except IntegrityError:
            raise Conflict(f"The statement id ({permission.statement_id}) provided already exists. Please provide "
                           "a new statement id, or remove the existing statement.") from None
    return statement


def permission_remove(*, tenant: Tenant, function_name: str, qualifier: str | None, statement_id: str,
                      revision_id: uuid.UUID | None = None) -> None:
    with transaction.atomic():
        function, _ = _resource(tenant=tenant, function_name=function_name, qualifier=qualifier)
        _check_revision(function, qualifier=qualifier, given=revision_id)
        deleted, _ = PolicyStatement.objects.filter(function=function, qualifier=qualifier or "",
                                                    sid=statement_id).delete()
    if not deleted:
        raise NotFound(f"Statement {statement_id} is not found in resource policy.")


def policy_get(*, tenant: Tenant, function_name: str, qualifier: str | None) -> tuple[dict[str, Any], str]:
    """The policy document of the function or qualifier, and the revision id it was read at."""
    function, _ = _resource(tenant=tenant, function_name=function_name, qualifier=qualifier)
    statements = [row.statement for row in function.policy_statements.filter(qualifier=qualifier or "")]
    if not statements:
        raise NotFound("The resource you requested does not exist.")
    return {"Version": "2012-10-17", "Id": "default", "Statement": statements}, str(
        _revision(function, qualifier=qualifier))


def _check(permission: Permission) -> None:
    found: dict[str, list[str]] = {}
    if not re.match(SID_PATTERN, permission.statement_id or ""):
        found["statement_id"] = ["StatementId must be 1-100 letters, digits, '-' or '_'."]
    if not re.match(ACTION_PATTERN, permission.action or ""):
        found["action"] = [f"Action {permission.action!r} must be lambda:<Operation>, lambda:* or *."]
    if not permission.principal:
        found["principal"] = ["Principal is required: a service (s3.amazonaws.com), an account id, an ARN or *."]
    if permission.source_account is not None and not _ACCOUNT.match(permission.source_account):
        found["source_account"] = ["SourceAccount must be a 12-digit account id."]
    if found:
        raise InvalidParameter(fields=found)


def _resource(*, tenant: Tenant, function_name: str, qualifier: str | None) -> tuple[Function, str]:
    """The function and the ARN the statement names: the function's, or qualified."""
    function = selectors.function_get(tenant=tenant, name=function_name)
    if qualifier is None:
        return function, function.arn
    if qualifier == LATEST:
        raise InvalidParameter.field("qualifier", "A policy may name the function, a published version or an "
                                                  "alias, not $LATEST.")
    selectors.qualifier_routing(tenant=tenant, function_name=function_name, qualifier=qualifier)  # it exists
    return function, f"{function.arn}:{qualifier}"


def _revision(function: Function, *, qualifier: str | None) -> uuid.UUID:
    """The RevisionId guarding the policy: the alias's for an alias, else ``$LATEST``'s, as Lambda's."""
    if qualifier and selectors.version_number(qualifier) is None:
        return selectors.alias_get(tenant=function.tenant, function_name=function.name, name=qualifier).revision_id
    return selectors.latest_get(tenant=function.tenant, function_name=function.name).revision_id


def _check_revision(function: Function, *, qualifier: str | None, given: uuid.UUID | None) -> None:
    if given is not None and given != _revision(function, qualifier=qualifier):
        raise PreconditionFailed("The Revision Id provided does not match the latest Revision Id. Call the "
                                 "GetPolicy API to retrieve the latest Revision Id")


def _statement(permission: Permission, *, resource: str) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": permission.statement_id, "Effect": "Allow",
                                 "Principal": _principal(permission.principal), "Action": permission.action,
                                 "Resource": resource}
    condition: dict[str, dict[str, str]] = {}
    if permission.source_account:
        condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = permission.source_account
    if permission.principal_org_id:
        condition.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = permission.principal_org_id
    if permission.event_source_token:
        condition.setdefault("StringEquals", {})["lambda:EventSourceToken"] = permission.event_source_token
    if permission.source_arn:
        condition["ArnLike"] = {"AWS:SourceArn": permission.source_arn}
    if condition:
        statement["Condition"] = condition
    return statement


def _principal(principal: str) -> str | dict[str, str]:
    if principal == "*":
        return "*"
    if _ACCOUNT.match(principal):
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    if principal.startswith("arn:"):
        return {"AWS": principal}
    return {"Service": principal}


def resource_policy(arn: str) -> Policy | None:
    """The compiled resource policy of the function an ARN names (every statement of the function,
    its versions and aliases: each statement's Resource says which ARN it covers), or None."""
    match = _FUNCTION_ARN.match(arn)
    if match is None:
        return None
    statements = [row.statement for row in PolicyStatement.objects.filter(
        function__tenant__account_id=match["account"], function__name=match["name"]).order_by("pk")]
    if not statements:
        return None
    return compile_document({"Version": VERSION, "Statement": statements}, name="resource-policy", kind="resource")
