"""Tenant-scoped reads of the invocation ledger."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from lambent.errors import NotFound
from lambent.functions import selectors as function_selectors
from lambent.iam.models import Tenant
from lambent.invocations.models import Invocation


def invocation_get(*, tenant: Tenant, request_id: str) -> Invocation:
    try:
        return Invocation.objects.get(tenant=tenant, request_id=uuid.UUID(request_id))
    except (ValueError, Invocation.DoesNotExist):
        raise NotFound(f"Invocation not found: {request_id}") from None


def invocation_list(*, tenant: Tenant, function_name: str) -> QuerySet[Invocation]:
    """The function's invocations, newest first."""
    function = function_selectors.function_get(tenant=tenant, name=function_name)
    return Invocation.objects.filter(tenant=tenant, function=function)
