from django.contrib import admin

from lambent.invocations.models import Invocation


@admin.register(Invocation)
class InvocationAdmin(admin.ModelAdmin):
    """The ledger is written by the platform; operators read it."""

    list_display = ["request_id", "tenant", "function_name", "executed_version", "invocation_type", "status",
                    "duration_ms", "created_at"]
    list_filter = ["status", "invocation_type"]
    search_fields = ["request_id", "function_name", "tenant__name"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
