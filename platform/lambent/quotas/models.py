"""A tenant's concurrency limits, where an operator overrides the defaults, and the
reservations of its functions.

Neither row needs to exist: a tenant without a ``TenantQuota`` (or with a field left
empty) has the settings' defaults, a function without a ``ReservedConcurrency`` shares the
tenant's unreserved pool. The running counts are not here but in Redis (``admission``).
"""

from __future__ import annotations

from django.db import models

from lambent.functions.models import Function
from lambent.iam.models import Tenant


class TenantQuota(models.Model):
    """An operator's override of one tenant's concurrency limits; an empty field means the default."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="quota")
    concurrent_executions = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Executions at once across all functions; empty: LAMBENT_CONCURRENT_EXECUTIONS.")
    unreserved_concurrency_minimum = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Part of the limit reservations may never take; empty: LAMBENT_UNRESERVED_CONCURRENCY_MINIMUM.")
    last_modified = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"quota of {self.tenant.name}"


class ReservedConcurrency(models.Model):
    """Concurrency set aside for one function, which is also the most it may run at once
    (all versions together); 0 stops it from running at all."""

    function = models.OneToOneField(Function, on_delete=models.CASCADE, related_name="reserved_concurrency")
    reserved_concurrent_executions = models.PositiveIntegerField()
    last_modified = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "reserved concurrencies"

    def __str__(self) -> str:
        return f"{self.function}: {self.reserved_concurrent_executions}"
