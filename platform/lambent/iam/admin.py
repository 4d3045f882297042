from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from lambent.iam.models import AccessKey, Membership, Tenant


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "account_id", "created_at"]
    search_fields = ["name", "account_id"]
    readonly_fields = ["account_id", "created_at"]
    inlines = [MembershipInline]


@admin.register(AccessKey)
class AccessKeyAdmin(admin.ModelAdmin):
    """Keys are issued with ``lambent tenant create`` or ``lambent tenant key``, which show the
    secret once; here an operator can only look them up and switch them off."""

    list_display = ["access_key_id", "tenant", "user", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["access_key_id", "tenant__name", "user__username"]
    readonly_fields = ["access_key_id", "tenant", "user", "created_at"]
    actions = ["deactivate"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Deactivate the selected access keys")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[AccessKey]) -> None:
        queryset.update(is_active=False)
