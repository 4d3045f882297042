"""The compiled identity policies of each principal, remembered between requests.

Compiling a principal's policies costs a few queries and a parse of each document; the
answer is kept per (tenant, user) together with the policy version it was computed at. Any
write to policies, attachments, groups, group memberships, memberships or tenants bumps
this process's version, so the next decision here recompiles at once; other processes see
the change when their entries expire after ``INVOKE_CACHE_SECONDS``, as the invoke hot
path's caches do (``lambent.invocations.hot_cache``).
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.db.models.signals import post_delete, post_save

from lambent.iam.models import Group, GroupMembership, Membership, Policy, PolicyAttachment, Tenant
from lambent.iam.policies import documents, managed

_version = 0
_entries: dict[tuple[int, int], tuple[float, int, tuple[documents.Policy, ...]]] = {}


def version() -> int:
    return _version


def bump(**_: Any) -> None:
    global _version
    _version += 1
    _entries.clear()


def compiled(attachment: PolicyAttachment) -> documents.Policy:
    if attachment.policy is None:
        return managed.POLICIES[attachment.managed_name]
    return documents.compile_document(attachment.policy.document, name=attachment.policy.name)


def load(*, tenant: Tenant, user_id: int) -> tuple[documents.Policy, ...]:
    """Straight from the database: the policies attached to the user and to its groups in the tenant."""
    if not Membership.objects.filter(tenant=tenant, user_id=user_id).exists():
        return ()
    groups = GroupMembership.objects.filter(group__tenant=tenant, user_id=user_id).values("group_id")
    attachments = PolicyAttachment.objects.filter(Q(user_id=user_id) | Q(group_id__in=groups),
                                                  tenant=tenant).select_related("policy")
    seen: dict[str, documents.Policy] = {}
    for attachment in attachments.order_by("pk"):
        seen.setdefault(attachment.policy_name, compiled(attachment))
    return tuple(seen.values())


def identity_policies(*, tenant: Tenant, user_id: int) -> tuple[documents.Policy, ...]:
    key = (tenant.pk, user_id)
    entry = _entries.get(key)
    if entry is not None and entry[0] > time.monotonic() and entry[1] == _version:
        return entry[2]
    found = load(tenant=tenant, user_id=user_id)
    if settings.INVOKE_CACHE_SECONDS > 0:
        _entries[key] = (time.monotonic() + settings.INVOKE_CACHE_SECONDS, _version, found)
    return found


for _model in (Policy, PolicyAttachment, Group, GroupMembership, Membership, Tenant):
    for _signal in (post_save, post_delete):
        _signal.connect(bump, sender=_model, weak=False, dispatch_uid=f"iam-policies-{_model.__name__}")
