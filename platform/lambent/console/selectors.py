"""Tenant-scoped reads of the console's own data, and the functions list as the console pages it."""

from __future__ import annotations

from django.db.models import OuterRef, Q, QuerySet, Subquery

from lambent.console.models import TestEvent
from lambent.errors import NotFound
from lambent.functions import selectors as function_selectors
from lambent.functions.models import LATEST_NUMBER, Function, Version
from lambent.iam.models import Tenant

#: The orders the functions list offers, by the name the page uses.
FUNCTION_ORDERS = {
    "name": "name", "-name": "-name",
    "modified": "latest_modified", "-modified": "-latest_modified",
}


def function_search(*, tenant: Tenant, query: str = "", order: str = "name") -> QuerySet[Function]:
    """The tenant's functions whose name or description holds ``query``, in one of ``FUNCTION_ORDERS``."""
    latest = Version.objects.filter(number=LATEST_NUMBER)
    functions = function_selectors.function_list(tenant=tenant)
    if query:
        described = latest.filter(description__icontains=query).values("function_id")
        functions = functions.filter(Q(name__icontains=query) | Q(pk__in=described))
    modified = latest.filter(function_id=OuterRef("pk")).values("last_modified")[:1]
    functions = functions.annotate(latest_modified=Subquery(modified))
    return functions.order_by(FUNCTION_ORDERS.get(order, "name"), "name")


def test_event_list(*, tenant: Tenant, function_name: str) -> QuerySet[TestEvent]:
    function = function_selectors.function_get(tenant=tenant, name=function_name)
    return TestEvent.objects.filter(function=function).order_by("name")


def test_event_get(*, tenant: Tenant, function_name: str, name: str) -> TestEvent:
    found = test_event_list(tenant=tenant, function_name=function_name).filter(name=name).first()
    if found is None:
        raise NotFound(f"Test event not found: {function_name}/{name}")
    return found
