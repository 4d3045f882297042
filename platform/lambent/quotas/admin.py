from typing import Any

from django import forms
from django.contrib import admin

from lambent.errors import InvalidParameter
from lambent.quotas import services
from lambent.quotas.models import ReservedConcurrency, TenantQuota


class TenantQuotaForm(forms.ModelForm):
    class Meta:
        model = TenantQuota
        fields = ["tenant", "concurrent_executions", "unreserved_concurrency_minimum"]

    def clean(self) -> dict[str, Any]:
        """The rule ``lambent quota`` keeps: the tenant's reservations must still fit."""
        cleaned: dict[str, Any] = super().clean() or {}
        tenant = cleaned.get("tenant")
        if tenant is not None:
            try:
                services.quota_check(tenant=tenant, concurrent_executions=cleaned.get("concurrent_executions"),
                                     unreserved_concurrency_minimum=cleaned.get("unreserved_concurrency_minimum"))
            except InvalidParameter as exc:
                raise forms.ValidationError(exc.message) from None
        return cleaned


@admin.register(TenantQuota)
class TenantQuotaAdmin(admin.ModelAdmin):
    """Operators override a tenant's concurrency limits here or with ``lambent quota``; empty is the default."""

    form = TenantQuotaForm
    list_display = ["tenant", "concurrent_executions", "unreserved_concurrency_minimum", "last_modified"]
    search_fields = ["tenant__name", "tenant__account_id"]
    autocomplete_fields = ["tenant"]


@admin.register(ReservedConcurrency)
class ReservedConcurrencyAdmin(admin.ModelAdmin):
    """Tenants reserve concurrency through the API, which holds the rules; operators look it up."""

    list_display = ["function", "reserved_concurrent_executions", "last_modified"]
    list_select_related = ["function__tenant"]
    search_fields = ["function__name", "function__tenant__name"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
