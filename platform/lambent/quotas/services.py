"""Writes of quotas: functions' reservations (tenants, through the API) and tenants' limits
(operators, through ``lambent quota`` and the admin).

Both keep one rule: the tenant's reservations together leave at least its unreserved
minimum of its limit, so functions without a reservation can always run. Each write locks
the tenant's row first, so two reservations made at once cannot together break it.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from lambent.errors import InvalidParameter
from lambent.functions import selectors as function_selectors
from lambent.iam.models import Tenant
from lambent.quotas import selectors
from lambent.quotas.models import ReservedConcurrency, TenantQuota

RESERVED_FIELD = "reserved_concurrent_executions"


def reservation_put(*, tenant: Tenant, function_name: str, reserved_concurrent_executions: Any) -> ReservedConcurrency:
    """Reserve concurrency for the function (replacing its reservation), if the tenant can spare it."""
    wanted = reserved_concurrent_executions
    if not _is_count(wanted):
        raise InvalidParameter.field(RESERVED_FIELD, f"{RESERVED_FIELD} must be a whole number, 0 or more.")
    with transaction.atomic():
        _lock(tenant)
        function = function_selectors.function_get(tenant=tenant, name=function_name)
        limits = selectors.tenant_limits(tenant=tenant)
        others = sum(n for pk, n in selectors.reservations(tenant=tenant).items() if pk != function.pk)
        if limits.concurrent_executions - others - wanted < limits.unreserved_minimum:
            message = ("Specified ReservedConcurrentExecutions for function decreases account's "
                       f"UnreservedConcurrentExecution below its minimum value of [{limits.unreserved_minimum}].")
            raise InvalidParameter(message, fields={RESERVED_FIELD: [message]})
        reservation, _ = ReservedConcurrency.objects.update_or_create(
            function=function, defaults={RESERVED_FIELD: wanted})
    return reservation


def reservation_delete(*, tenant: Tenant, function_name: str) -> None:
    """The function shares the unreserved pool again (nothing to do when it had no reservation)."""
    function = function_selectors.function_get(tenant=tenant, name=function_name)
    ReservedConcurrency.objects.filter(function=function).delete()


def quota_set(*, tenant: Tenant, concurrent_executions: int | None, unreserved_concurrency_minimum: int | None
              ) -> TenantQuota:
    """Override the tenant's limits (None: the default), if its reservations still fit."""
    with transaction.atomic():
        _lock(tenant)
        quota_check(tenant=tenant, concurrent_executions=concurrent_executions,
                    unreserved_concurrency_minimum=unreserved_concurrency_minimum)
        quota, _ = TenantQuota.objects.update_or_create(tenant=tenant, defaults={
            "concurrent_executions": concurrent_executions,
            "unreserved_concurrency_minimum": unreserved_concurrency_minimum})
    return quota


def quota_check(*, tenant: Tenant, concurrent_executions: int | None, unreserved_concurrency_minimum: int | None
                ) -> None:
    """Refuse limits that are not counts, or that the tenant's reservations already break
    (the admin's form asks this too)."""
    given = {"concurrent_executions": concurrent_executions,
             "unreserved_concurrency_minimum": unreserved_concurrency_minimum}
    wrong = {name: [f"{name} must be a whole number, 0 or more (or empty for the default)."]
             for name, value in given.items() if value is not None and not _is_count(value)}
    if wrong:
        raise InvalidParameter(fields=wrong)
    limits = selectors.effective_limits(TenantQuota(tenant=tenant, **given))
    reserved = sum(selectors.reservations(tenant=tenant).values())
    if limits.concurrent_executions - reserved < limits.unreserved_minimum:
        raise InvalidParameter.field(
            "concurrent_executions",
            f"A limit of {limits.concurrent_executions} with an unreserved minimum of {limits.unreserved_minimum} "
            f"leaves too little for the {reserved} the tenant's functions reserve; lower those reservations first.")


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _lock(tenant: Tenant) -> None:
    """Serialize the tenant's quota writes (a row lock on PostgreSQL; SQLite's transactions
    already take the database's write lock when they begin)."""
    Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
