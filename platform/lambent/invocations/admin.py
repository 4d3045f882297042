from django.contrib import admin

from lambent.invocations.models import (
    Attempt,
    DeadLetterConfig,
    EventInvokeConfig,
    Invocation,
    OutboxMessage,
    WebhookDelivery,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written by the platform; operators read it."""

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class AttemptInline(admin.TabularInline):
    model = Attempt
    extra = 0
    readonly_fields = ("number", "outcome", "executed_version", "started_at", "finished_at", "duration_ms",
                       "error_type")
    fields = readonly_fields
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Invocation)
class InvocationAdmin(ReadOnlyAdmin):
    list_display = ["request_id", "tenant", "function_name", "executed_version", "invocation_type", "status",
                    "attempt_count", "duration_ms", "created_at"]
    list_filter = ["status", "invocation_type"]
    search_fields = ["request_id", "function_name", "tenant__name"]
    date_hierarchy = "created_at"
    exclude = ["payload", "response"]
    inlines = [AttemptInline]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    """Messages the broker still owes; a row that stays long after ``due_at`` means no worker runs."""

    list_display = ["task", "key", "due_at", "created_at"]
    list_filter = ["task"]
    search_fields = ["key"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["delivery_id", "tenant", "url", "attempts", "delivered_at", "abandoned_at", "last_error"]
    search_fields = ["delivery_id", "url", "tenant__name"]
    exclude = ["body"]


@admin.register(EventInvokeConfig)
class EventInvokeConfigAdmin(ReadOnlyAdmin):
    list_display = ["function", "qualifier", "maximum_retry_attempts", "maximum_event_age_seconds", "on_success",
                    "on_failure"]
    search_fields = ["function__name", "function__tenant__name"]


@admin.register(DeadLetterConfig)
class DeadLetterConfigAdmin(ReadOnlyAdmin):
    list_display = ["function", "target"]
    search_fields = ["function__name", "function__tenant__name"]
