"""Reads of quotas: a tenant's limits, its reservations, the pool a function draws from and
the account's numbers.

Every tenant-scoped read takes ``tenant=``; another tenant's function is ``NotFound``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet

from lambent.functions import selectors as function_selectors
from lambent.functions.models import Function
from lambent.iam.models import Tenant
from lambent.quotas import admission
from lambent.quotas.models import ReservedConcurrency, TenantQuota


@dataclass(frozen=True)
class TenantLimits:
    """A tenant's limits in force: its overrides, or the settings' defaults."""

    concurrent_executions: int
    unreserved_minimum: int


@dataclass(frozen=True)
class Account:
    """What GET /account shows: limits, what is reserved, stored and running."""

    limits: TenantLimits
    reserved: int
    total_code_size: int
    function_count: int
    in_use: int

    @property
    def unreserved(self) -> int:
        return max(self.limits.concurrent_executions - self.reserved, 0)


def effective_limits(quota: TenantQuota | None) -> TenantLimits:
    """The limits a quota row (or none) puts in force."""
    concurrent = quota.concurrent_executions if quota else None
    minimum = quota.unreserved_concurrency_minimum if quota else None
    return TenantLimits(
        concurrent_executions=settings.CONCURRENT_EXECUTIONS if concurrent is None else concurrent,
        unreserved_minimum=settings.UNRESERVED_CONCURRENCY_MINIMUM if minimum is None else minimum,
    )


def tenant_quota(*, tenant: Tenant) -> TenantQuota | None:
    """The operator's override of the tenant's limits, if any."""
    return TenantQuota.objects.filter(tenant=tenant).first()


def tenant_quotas() -> QuerySet[TenantQuota]:
    """Every tenant's override: for the operators' tenants page only."""
    return TenantQuota.objects.all()


def tenant_limits(*, tenant: Tenant) -> TenantLimits:
    return effective_limits(tenant_quota(tenant=tenant))


def reservations(*, tenant: Tenant) -> dict[int, int]:
    """The tenant's reservations, by function id."""
    rows = ReservedConcurrency.objects.filter(function__tenant=tenant)
    return dict(rows.values_list("function_id", "reserved_concurrent_executions"))


def reservation_get(*, tenant: Tenant, function_name: str) -> ReservedConcurrency | None:
    """The function's reservation, None when it has none; a missing function is ``NotFound``."""
    function = function_selectors.function_get(tenant=tenant, name=function_name)
    return ReservedConcurrency.objects.filter(function=function).first()


def pool_for(*, function: Function) -> admission.Pool:
    """The pool invocations of ``function`` take their slots from (two small queries; the
    invoke paths keep the answer in ``lambent.invocations.hot_cache``)."""
    tenant = function.tenant
    reserved = reservations(tenant=tenant)
    if function.pk in reserved:
        return admission.Pool(key=admission.function_key(account_id=tenant.account_id, function_id=function.pk),
                              limit=reserved[function.pk], reserved=True, account_id=tenant.account_id,
                              function_name=function.name)
    limit = tenant_limits(tenant=tenant).concurrent_executions - sum(reserved.values())
    return admission.Pool(key=admission.unreserved_key(account_id=tenant.account_id), limit=max(limit, 0),
                          reserved=False, account_id=tenant.account_id, function_name=function.name)


def account(*, tenant: Tenant) -> Account:
    """The tenant's limits and usage."""
    reserved = reservations(tenant=tenant)
    code_size = function_selectors.code_storage_used(tenant=tenant)
    keys = [admission.unreserved_key(account_id=tenant.account_id)]
    keys += [admission.function_key(account_id=tenant.account_id, function_id=pk) for pk in reserved]
    return Account(limits=tenant_limits(tenant=tenant), reserved=sum(reserved.values()), total_code_size=code_size,
                   function_count=Function.objects.filter(tenant=tenant).count(),
                   in_use=sum(admission.in_use(keys=keys)))


@dataclass(frozen=True)
class ReservedPool:
    """A reserved function's pool, named for the metrics."""

    account_id: str
    function_name: str
    key: str


def reserved_pools_everywhere() -> list[ReservedPool]:
    """Every tenant's reserved functions: for the operator's metrics only."""
    rows = ReservedConcurrency.objects.values_list("function_id", "function__name", "function__tenant__account_id")
    return [ReservedPool(account_id=account_id, function_name=name,
                         key=admission.function_key(account_id=account_id, function_id=pk))
            for pk, name, account_id in rows.order_by("function__tenant__account_id", "function__name")]


def account_ids_everywhere() -> list[str]:
    """Every tenant's account id: for the operator's metrics only."""
    return list(Tenant.objects.order_by("account_id").values_list("account_id", flat=True))
