from django.contrib import admin

from lambent.functions.models import Alias, CodeArtifact, Function, ProvisionedConcurrencyConfig, Version


class VersionInline(admin.TabularInline):
    model = Version
    extra = 0
    fields = readonly_fields = ("number", "runtime", "handler", "memory_size", "timeout", "code", "last_modified")
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class AliasInline(admin.TabularInline):
    model = Alias
    fk_name = "function"
    extra = 0
    fields = readonly_fields = ("name", "version", "additional_version", "additional_weight")
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Function)
class FunctionAdmin(admin.ModelAdmin):
    """Operators look functions up; tenants change them through the APIs, which hold the rules."""

    list_display = ["name", "tenant", "last_published", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["name", "tenant__name"]
    readonly_fields = ["tenant", "name", "last_published", "created_at"]
    inlines = [VersionInline, AliasInline]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(Version)
class VersionAdmin(admin.ModelAdmin):
    list_display = ["function", "number", "runtime", "memory_size", "timeout", "last_modified"]
    search_fields = ["function__name", "function__tenant__name"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(CodeArtifact)
class CodeArtifactAdmin(admin.ModelAdmin):
    list_display = ["sha256", "size", "unzipped_size", "created_at"]
    search_fields = ["sha256"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(ProvisionedConcurrencyConfig)
class ProvisionedConcurrencyConfigAdmin(admin.ModelAdmin):
    """Kept in line with the executors by the reconciler; tenants change them through the APIs."""

    list_display = ["function", "qualifier", "requested", "allocated", "status", "last_modified"]
    list_filter = ["status"]
    search_fields = ["function__name", "function__tenant__name"]
    readonly_fields = ["allocated", "status", "status_reason", "last_modified"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
