"""Writes of groups, customer-managed policies and their attachments, each for one tenant.

A policy document is compiled before it is stored, so a malformed one never is. A policy
attached anywhere cannot be deleted (409, as IAM's DeleteConflict): detach it first. Names of
the shipped managed policies are reserved; attaching by name finds the tenant's own policy or,
failing that, a shipped one.

Writes that add a row under a group or a policy lock that row first, as its deletion does: a
member added while the group is being deleted then finds it gone (404) instead of meeting a
foreign-key violation, and two identical requests at once make one row.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from lambent.errors import Conflict, InvalidParameter, NotFound
from lambent.iam.models import Group, GroupMembership, Policy, PolicyAttachment, Tenant
from lambent.iam.policies import documents, managed, selectors


def _valid(instance: models.Model, *, exclude: list[str]) -> None:
    try:
        instance.clean_fields(exclude=exclude)
    except ValidationError as exc:
        raise InvalidParameter(fields=exc.message_dict) from None


def policy_create(*, tenant: Tenant, name: str, document: Any, description: str = "") -> Policy:
    if name in managed.POLICIES:
        raise Conflict(f"{name} is the name of a managed policy.")
    document = _checked(document, name=name)
    policy = Policy(tenant=tenant, name=name, document=document, description=description)
    _valid(policy, exclude=["tenant", "document"])
    try:
        with transaction.atomic():
            policy.save()
    except IntegrityError:
        raise Conflict(f"A policy called {name} already exists.") from None
    return policy


def policy_update(*, tenant: Tenant, name: str, document: Any | None = None,
                  description: str | None = None) -> Policy:
    """Replace the document (the revision counts it) and/or the description."""
    with transaction.atomic():
        policy = Policy.objects.select_for_update().filter(pk=selectors.policy_get(tenant=tenant, name=name).pk).get()
        if document is not None:
            policy.document = _checked(document, name=name)
            policy.revision += 1
        if description is not None:
            policy.description = description
            _valid(policy, exclude=["tenant", "document"])
        policy.save()
    return policy


def policy_delete(*, tenant: Tenant, name: str) -> None:
    with transaction.atomic():
        policy = _locked(Policy, tenant=tenant, name=name)
        if policy.attachments.exists():
            raise Conflict(f"Policy {name} is attached: detach it from every user and group first.")
        policy.delete()


def _locked(model: type[Group] | type[Policy], *, tenant: Tenant, name: str) -> Any:
    """The group or policy, its row locked until the caller's transaction ends; or a 404."""
    found = model.objects.select_for_update().filter(tenant=tenant, name=name).first()
    if found is None:
        raise NotFound(f"{model.__name__} {name} not found.")
    return found


def _checked(document: Any, *, name: str) -> Any:
    if isinstance(document, str):
        document = documents.load_json(document)
    documents.compile_document(document, name=name)
    return document


def group_create(*, tenant: Tenant, name: str) -> Group:
    group = Group(tenant=tenant, name=name)
    _valid(group, exclude=["tenant"])
    try:
        with transaction.atomic():
            group.save()
    except IntegrityError:
        raise Conflict(f"A group called {name} already exists.") from None
    return group


def group_delete(*, tenant: Tenant, name: str) -> None:
    with transaction.atomic():
        _locked(Group, tenant=tenant, name=name).delete()


def group_member_add(*, tenant: Tenant, group_name: str, username: str) -> GroupMembership:
    user = selectors.member_get(tenant=tenant, username=username)
    with transaction.atomic():
        group = _locked(Group, tenant=tenant, name=group_name)
        membership, _ = GroupMembership.objects.get_or_create(group=group, user=user)
    return membership


def group_member_remove(*, tenant: Tenant, group_name: str, username: str) -> None:
    user = selectors.member_get(tenant=tenant, username=username)
    with transaction.atomic():
        group = _locked(Group, tenant=tenant, name=group_name)
        found = GroupMembership.objects.filter(group=group, user=user).first()
        if found is None:
            raise NotFound(f"User {username} is not in group {group_name}.")
        found.delete()


def _target(*, tenant: Tenant, username: str | None, group_name: str | None) -> dict[str, User | Group]:
    if username is not None:
        return {"user": selectors.member_get(tenant=tenant, username=username)}
    assert group_name is not None, "attach to a user or a group"
    return {"group": _locked(Group, tenant=tenant, name=group_name)}


def _policy(*, tenant: Tenant, policy_name: str) -> dict[str, Any]:
    own = Policy.objects.select_for_update().filter(tenant=tenant, name=policy_name).first()
    if own is not None:
        return {"policy": own}
    if policy_name in managed.POLICIES:
        return {"managed_name": policy_name}
    raise NotFound(f"Policy {policy_name} not found.")


def policy_attach(*, tenant: Tenant, policy_name: str, username: str | None = None,
                  group_name: str | None = None) -> PolicyAttachment:
    """Attach to a user or a group of the tenant; attaching twice changes nothing."""
    with transaction.atomic():
        fields = {**_target(tenant=tenant, username=username, group_name=group_name),
                  **_policy(tenant=tenant, policy_name=policy_name)}
        attachment, _ = PolicyAttachment.objects.get_or_create(tenant=tenant, **fields)
    return attachment


def policy_detach(*, tenant: Tenant, policy_name: str, username: str | None = None,
                  group_name: str | None = None) -> None:
    with transaction.atomic():
        fields = {**_target(tenant=tenant, username=username, group_name=group_name),
                  **_policy(tenant=tenant, policy_name=policy_name)}
        found = PolicyAttachment.objects.filter(tenant=tenant, **fields).first()
        if found is None:
            raise NotFound(f"Policy {policy_name} is not attached there.")
        found.delete()
