"""Tenant-scoped reads of the invocation ledger."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db.models import Prefetch, QuerySet

from lambent.errors import InvalidParameter, NotFound
from lambent.functions import selectors as function_selectors
from lambent.iam.models import Tenant
from lambent.invocations.models import Attempt, Invocation, InvocationStatus


def invocation_get(*, tenant: Tenant, request_id: str) -> Invocation:
    """One invocation with its attempts (``attempts.all()`` is prefetched)."""
    try:
        return Invocation.objects.prefetch_related(
            Prefetch("attempts", queryset=Attempt.objects.order_by("number"))
        ).get(tenant=tenant, request_id=uuid.UUID(request_id))
    except (ValueError, Invocation.DoesNotExist):
        raise NotFound(f"Invocation not found: {request_id}") from None


def invocation_list(*, tenant: Tenant, function_name: str | None = None, status: str | None = None,
                    since: datetime | None = None, until: datetime | None = None) -> QuerySet[Invocation]:
    """The tenant's invocations, optionally of one function, in one status, accepted in ``[since, until)``."""
    invocations = Invocation.objects.filter(tenant=tenant)
    if function_name is not None:
        function = function_selectors.function_get(tenant=tenant, name=function_name)
        invocations = invocations.filter(function=function)
    if status is not None:
        if status not in InvocationStatus.values:
            raise InvalidParameter.field("status", f"{status!r} is not one of {', '.join(InvocationStatus.values)}.")
        invocations = invocations.filter(status=status)
    if since is not None:
        invocations = invocations.filter(created_at__gte=since)
    if until is not None:
        invocations = invocations.filter(created_at__lt=until)
    return invocations
