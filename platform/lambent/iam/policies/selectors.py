"""Tenant-scoped reads of groups, customer-managed policies and attachments."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from lambent.errors import NotFound
from lambent.iam.models import Group, Policy, PolicyAttachment, Tenant


def policy_list(*, tenant: Tenant) -> QuerySet[Policy]:
    return Policy.objects.filter(tenant=tenant)


def policy_get(*, tenant: Tenant, name: str) -> Policy:
    found = Policy.objects.filter(tenant=tenant, name=name).first()
    if found is None:
        raise NotFound(f"Policy {name} not found.")
    return found


def group_list(*, tenant: Tenant) -> QuerySet[Group]:
    return Group.objects.filter(tenant=tenant).prefetch_related("group_memberships__user")


def group_get(*, tenant: Tenant, name: str) -> Group:
    found = group_list(tenant=tenant).filter(name=name).first()
    if found is None:
        raise NotFound(f"Group {name} not found.")
    return found


def member_get(*, tenant: Tenant, username: str) -> User:
    """A user of the tenant; a user of another tenant only is not found, like one that does not exist."""
    found = User.objects.filter(memberships__tenant=tenant, username=username).first()
    if found is None:
        raise NotFound(f"User {username} not found.")
    return found


def member_list(*, tenant: Tenant) -> QuerySet[User]:
    return User.objects.filter(memberships__tenant=tenant).order_by("username")


def attachments_of(*, tenant: Tenant, user: User | None = None, group: Group | None = None) -> list[str]:
    """The names of the policies attached directly to a user or to a group, sorted."""
    found = PolicyAttachment.objects.filter(tenant=tenant, user=user, group=group).select_related("policy")
    return sorted(attachment.policy_name for attachment in found)
