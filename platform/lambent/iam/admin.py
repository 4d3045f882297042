from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from lambent.errors import NotFound
from lambent.iam import selectors, services
from lambent.iam.models import AccessKey, Group, GroupMembership, Membership, Policy, Tenant
from lambent.iam.policies.documents import MalformedPolicyDocument, compile_document


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    """A tenant added here gets its first user (``<name>-admin``), as ``lambent tenant create`` gives
    one, so keys can be issued to it: the action below shows each new key's secret once."""

    list_display = ["name", "account_id", "created_at"]
    search_fields = ["name", "account_id"]
    readonly_fields = ["account_id", "created_at"]
    inlines = [MembershipInline]
    actions = ["issue_access_key"]

    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change:
            return
        try:
            with transaction.atomic():
                services.tenant_first_user_create(tenant=obj)
        except IntegrityError:
            self.message_user(request, f"A user named {obj.name}-admin exists already: add a member to "
                                       f"{obj.name} before issuing keys.", messages.WARNING)

    @admin.action(description="Issue an access key to the selected tenants' first users")
    def issue_access_key(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            try:
                member = selectors.tenant_first_member(tenant=tenant)
            except NotFound as exc:
                self.message_user(request, exc.message, messages.ERROR)
                continue
            issued = services.access_key_issue(tenant=tenant, user=member.user)
            self.message_user(request, f"{tenant.name}: access key id {issued.access_key_id}, secret access key "
                                       f"{issued.secret_access_key} (shown once; keep it safe).", messages.SUCCESS)


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


class GroupMembershipInline(admin.TabularInline):
    model = GroupMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    """Groups of a tenant's users; a member must be a member of the tenant (the API checks it)."""

    list_display = ["name", "tenant", "created_at"]
    search_fields = ["name", "tenant__name"]
    inlines = [GroupMembershipInline]


class PolicyForm(forms.ModelForm):
    """Refuses a malformed document with the engine's own message, as the API does."""

    class Meta:
        model = Policy
        fields = ["tenant", "name", "description", "document"]

    def clean_document(self) -> object:
        document = self.cleaned_data["document"]
        try:
            compile_document(document, name=self.cleaned_data.get("name") or "policy")
        except MalformedPolicyDocument as exc:
            raise forms.ValidationError(exc.message) from None
        return document


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    form = PolicyForm
    list_display = ["name", "tenant", "revision", "updated_at"]
    search_fields = ["name", "tenant__name"]
    readonly_fields = ["revision", "created_at", "updated_at"]

    def save_model(self, request: HttpRequest, obj: Policy, form: Any, change: bool) -> None:
        if change and "document" in form.changed_data:
            obj.revision += 1
        super().save_model(request, obj, form, change)
