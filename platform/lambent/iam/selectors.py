"""Reads of the iam app."""

from __future__ import annotations

from django.db.models import QuerySet

from lambent.errors import NotFound
from lambent.iam.models import AccessKey, Membership, Tenant


def tenant_list() -> QuerySet[Tenant]:
    """Every tenant: for operators (the ``lambent tenant`` command and the admin) only."""
    return Tenant.objects.order_by("name")


def tenant_get(*, name: str) -> Tenant:
    try:
        return Tenant.objects.get(name=name)
    except Tenant.DoesNotExist:
        raise NotFound(f"tenant {name!r} not found") from None


def tenant_first_member(*, tenant: Tenant) -> Membership:
    membership = tenant.memberships.select_related("user").order_by("created_at").first()
    if membership is None:
        raise NotFound(f"tenant {tenant.name!r} has no members")
    return membership


def access_key_for_authentication(*, access_key_id: str) -> AccessKey | None:
    """The key with its user and tenant, or None: authentication decides what that means."""
    return AccessKey.objects.select_related("user", "tenant").filter(access_key_id=access_key_id).first()


def access_key_list(*, tenant: Tenant) -> QuerySet[AccessKey]:
    """The tenant's access keys, oldest first, with their users; never their secrets' plain text."""
    return AccessKey.objects.filter(tenant=tenant).select_related("user").order_by("created_at", "pk")


def is_member(*, tenant: Tenant, user_id: int) -> bool:
    return Membership.objects.filter(tenant=tenant, user_id=user_id).exists()


def tenants_of(*, user_id: int) -> QuerySet[Tenant]:
    """The tenants a user may act in, by name: the console's tenant switcher."""
    return Tenant.objects.filter(memberships__user_id=user_id).order_by("name")
