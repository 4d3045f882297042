from django.contrib import admin

from lambent.console.models import TestEvent


@admin.register(TestEvent)
class TestEventAdmin(admin.ModelAdmin):
    list_display = ["name", "function", "updated_at"]
    search_fields = ["name", "function__name", "function__tenant__name"]
    list_select_related = ["function__tenant"]
    readonly_fields = ["created_at", "updated_at"]
