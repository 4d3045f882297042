"""The operators' pages, for staff users only: every tenant with its limits, creating a tenant
(its first user's access key shown once, as ``lambent tenant create`` prints it) and changing a
tenant's concurrency limits. To anyone else they do not exist: a 404, as another tenant's page.
The writes are the services the CLI and the admin call (``iam.services.tenant_create``,
``quotas.services.quota_set``)."""

from __future__ import annotations

import functools
from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache

from lambent.console import forms, tenancy
from lambent.errors import Conflict, InvalidParameter, NotFound
from lambent.iam import selectors as iam_selectors
from lambent.iam import services as iam_services
from lambent.quotas import selectors as quota_selectors
from lambent.quotas import services as quota_services


def operator_view(view: tenancy.TenantView) -> tenancy.TenantView:
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            raise Http404("Not found")
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from None

    return wrapped


class TenantCreateForm(django_forms.Form):
    name = django_forms.CharField(strip=False, label="Tenant name",
                                  help_text="Its first user, NAME-admin, gets the first access key.")


class LimitsForm(django_forms.Form):
    concurrent_executions = django_forms.CharField(required=False, label="Concurrency limit",
                                                   help_text="Executions at once, all functions; empty: the default.")
    unreserved_concurrency_minimum = django_forms.CharField(
        required=False, label="Unreserved minimum", help_text="What reservations may never take; empty: the default.")


def _page(request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
    return tenancy.page(request, template, {"tenant": tenancy.current_tenant(request), **context}, status=status)


@never_cache
@operator_view
def tenant_list(request: HttpRequest) -> HttpResponse:
    form = TenantCreateForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            created = iam_services.tenant_create(name=form.cleaned_data["name"])
        except InvalidParameter as failure:
            forms.show_errors(form, failure)
        except Conflict as exc:
            form.add_error("name", exc.message)
        else:
            form = TenantCreateForm()
    quotas = {quota.tenant_id: quota for quota in quota_selectors.tenant_quotas()}
    rows = [(tenant, quota_selectors.effective_limits(quotas.get(tenant.pk))) for tenant in iam_selectors.tenant_list()]
    return _page(request, "console/operator/tenants.html", {"form": form, "rows": rows, "created": created},
                 status=201 if created else 400 if form.errors else 200)


@operator_view
def tenant_detail(request: HttpRequest, name: str) -> HttpResponse:
    target = iam_selectors.tenant_get(name=name)
    quota = quota_selectors.tenant_quota(tenant=target)
    initial = {"concurrent_executions": quota.concurrent_executions if quota else "",
               "unreserved_concurrency_minimum": quota.unreserved_concurrency_minimum if quota else ""}
    form = LimitsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        typed = {field: forms.typed_number(form.cleaned_data[field]) if form.cleaned_data[field].strip() else None
                 for field in form.fields}
        try:
            quota_services.quota_set(tenant=target, **typed)
        except InvalidParameter as failure:
            forms.show_errors(form, failure)
        else:
            messages.success(request, f"The limits of tenant {name} are saved.")
            return redirect("console:operator-tenant", name=name)
    context = {"target": target, "form": form, "limits": quota_selectors.tenant_limits(tenant=target),
               "members": [membership.user.username for membership in target.memberships.select_related("user")]}
    return _page(request, "console/operator/tenant.html", context, status=400 if form.errors else 200)
