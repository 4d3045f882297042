from django.contrib import admin

from lambent.events.models import Firing, Schedule, ScheduleGroup


@admin.register(ScheduleGroup)
class ScheduleGroupAdmin(admin.ModelAdmin):
    """Operators look groups up; tenants change them through the APIs, which hold the rules."""

    list_display = ["name", "tenant", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["name", "tenant__name"]
    readonly_fields = ["tenant", "name", "created_at", "last_modified"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    """Read-only: a change that skipped the services would leave ``next_fire_at`` stale."""

    list_display = ["name", "group", "tenant", "expression", "timezone", "state", "next_fire_at"]
    list_filter = ["state", "tenant"]
    list_select_related = ["group", "tenant"]
    search_fields = ["name", "group__name", "tenant__name", "function_name"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Firing)
class FiringAdmin(admin.ModelAdmin):
    """The record of what each schedule did; written by the tick only."""

    list_display = ["schedule", "scheduled_at", "fired_at", "status", "request_id"]
    list_filter = ["status"]
    list_select_related = ["schedule__group", "schedule__tenant"]
    search_fields = ["schedule__name", "request_id"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
