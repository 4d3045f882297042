"""Writes of quotas: functions' reservations (tenants, through the API) and tenants' limits
(operators, through ``lambent quota`` and the admin).

They keep two rules, as Lambda does. The tenant's reservations, with the sandboxes provisioned
for its functions without one, leave at least its unreserved minimum of its limit, so functions
without a reservation can always run. A function's provisioned sandboxes fit in its
reservation, if it has one. Each write locks the tenant's row first, so two writes at once
cannot together break them.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from lambent.errors import InvalidParameter
from lambent.functions import selectors as function_selectors
from lambent.functions import services as function_services
from lambent.functions.models import Function, ProvisionedConcurrencyConfig
from lambent.iam.models import Tenant
from lambent.iam.services import tenant_lock
from lambent.quotas import selectors
from lambent.quotas.models import ReservedConcurrency, TenantQuota

RESERVED_FIELD = "reserved_concurrent_executions"
PROVISIONED_FIELD = "provisioned_concurrent_executions"


def reservation_put(*, tenant: Tenant, function_name: str, reserved_concurrent_executions: Any) -> ReservedConcurrency:
    """Reserve concurrency for the function (replacing its reservation), if the tenant can spare it."""
    wanted = reserved_concurrent_executions
    if not _is_count(wanted):
        raise InvalidParameter.field(RESERVED_FIELD, f"{RESERVED_FIELD} must be a whole number, 0 or more.")
    with transaction.atomic():
        tenant_lock(tenant)
        function = function_selectors.function_get(tenant=tenant, name=function_name)
        provisioned = function_selectors.provisioned_totals(tenant=tenant).get(function.pk, 0)
        if wanted < provisioned:
            message = (f"Specified ReservedConcurrentExecutions for function is less than the {provisioned} "
                       "sandboxes provisioned for it; lower its provisioned concurrency first.")
            raise InvalidParameter(message, fields={RESERVED_FIELD: [message]})
        limits = selectors.tenant_limits(tenant=tenant)
        if limits.concurrent_executions - _committed(tenant, besides=function) - wanted < limits.unreserved_minimum:
            message = ("Specified ReservedConcurrentExecutions for function decreases account's "
                       f"UnreservedConcurrentExecution below its minimum value of [{limits.unreserved_minimum}].")
            raise InvalidParameter(message, fields={RESERVED_FIELD: [message]})
        reservation, _ = ReservedConcurrency.objects.update_or_create(
            function=function, defaults={RESERVED_FIELD: wanted})
    return reservation


def reservation_delete(*, tenant: Tenant, function_name: str) -> None:
    """The function shares the unreserved pool again (nothing to do when it had no reservation).
    Its provisioned sandboxes always fit there: they fit in its reservation, which left the minimum."""
    function = function_selectors.function_get(tenant=tenant, name=function_name)
    ReservedConcurrency.objects.filter(function=function).delete()


def provisioned_put(*, tenant: Tenant, function_name: str, qualifier: str | None,
                    requested: int) -> ProvisionedConcurrencyConfig:
    """Provision sandboxes for a version or alias (``lambent.functions.services.provisioned_config_put``)
    if the function's reservation, or else the tenant's unreserved pool, can hold them all."""
    with transaction.atomic():
        tenant_lock(tenant)
        function = function_selectors.function_get(tenant=tenant, name=function_name)
        others = sum(config.requested for config in function.provisioned_concurrency_configs.all()
                     if config.qualifier != qualifier)
        total = others + requested
        reserved = selectors.reservations(tenant=tenant).get(function.pk)
        if reserved is not None and total > reserved:
            raise InvalidParameter.field(
                PROVISIONED_FIELD, f"Requested Provisioned Concurrency ({total} for the function in all) should not "
                f"be greater than the reservedConcurrentExecution for function ({reserved}).")
        limits = selectors.tenant_limits(tenant=tenant)
        if reserved is None:
            spare = limits.concurrent_executions - _committed(tenant, besides=function) - limits.unreserved_minimum
            if total > spare:
                raise InvalidParameter.field(
                    PROVISIONED_FIELD, f"Requested Provisioned Concurrency ({total} for the function in all) would "
                    f"take the account's unreserved concurrency below its minimum value of "
                    f"[{limits.unreserved_minimum}]; {max(spare, 0)} can be provisioned.")
        return function_services.provisioned_config_put(tenant=tenant, function_name=function_name,
                                                        qualifier=qualifier, requested=requested)


def quota_set(*, tenant: Tenant, concurrent_executions: int | None, unreserved_concurrency_minimum: int | None
              ) -> TenantQuota:
    """Override the tenant's limits (None: the default), if its reservations still fit."""
    with transaction.atomic():
        tenant_lock(tenant)
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
    committed = _committed(tenant)
    if limits.concurrent_executions - committed < limits.unreserved_minimum:
        raise InvalidParameter.field(
            "concurrent_executions",
            f"A limit of {limits.concurrent_executions} with an unreserved minimum of {limits.unreserved_minimum} "
            f"leaves too little for the {committed} the tenant's functions reserve or provision; "
            "lower those first.")


def _committed(tenant: Tenant, *, besides: Function | None = None) -> int:
    """What the tenant's functions (but ``besides``) take from its limit: a reservation, or else
    the sandboxes provisioned for the function, which run in the unreserved pool."""
    reserved = selectors.reservations(tenant=tenant)
    provisioned = function_selectors.provisioned_totals(tenant=tenant)
    skip = besides.pk if besides is not None else None
    return (sum(n for pk, n in reserved.items() if pk != skip)
            + sum(n for pk, n in provisioned.items() if pk != skip and pk not in reserved))


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
