from django.contrib import admin

from lambent.queues.models import Message, Queue


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    """Operators look queues up; tenants change them through the API, which holds the rules."""

    list_display = ["name", "tenant", "visibility_timeout", "message_retention_seconds", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["name", "tenant__name"]
    readonly_fields = ["tenant", "name", "visibility_timeout", "message_retention_seconds", "created_at"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Messages are read here, never changed: a receipt handle is a tenant's right to delete, so it is not shown."""

    list_display = ["message_id", "queue", "sent_at", "visible_at", "receive_count"]
    list_select_related = ["queue__tenant"]
    search_fields = ["message_id", "queue__name", "queue__tenant__name"]
    exclude = ["receipt_handle"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
