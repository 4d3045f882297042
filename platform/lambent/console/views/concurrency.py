"""A function's concurrency tab: its reserved concurrency, against the tenant's limit, and the
provisioned concurrency of its versions and aliases with each config's status. The API's
serializers take the typed values in; ``lambent.quotas.services`` (and the functions' service
for deleting a provisioned config) write them, as the API's concurrency views do."""

from __future__ import annotations

from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from rest_framework import serializers

from lambent.console import forms
from lambent.console.tenancy import page, tenant_view
from lambent.console.views.function import tab_context
from lambent.errors import Conflict, InvalidParameter, NotFound
from lambent.functions import selectors as function_selectors
from lambent.functions import services as function_services
from lambent.iam.models import Tenant
from lambent.quotas import selectors as quota_selectors
from lambent.quotas import services as quota_services
from lambent.quotas.api.serializers import ProvisionedConcurrencyPutSerializer, ReservedConcurrencySerializer


class ReservedForm(django_forms.Form):
    reserved_concurrent_executions = django_forms.CharField(
        required=False, label="Reserved concurrency",
        help_text="Executions set aside for this function, and the most it runs at once; 0 stops it; "
                  "empty for none (it shares the unreserved pool).")


class ProvisionedForm(django_forms.Form):
    qualifier = django_forms.CharField(required=False, label="Version or alias")
    provisioned_concurrent_executions = django_forms.CharField(required=False, label="Provisioned concurrency",
                                                               help_text="Sandboxes kept initialized.")

    def __init__(self, *args: Any, qualifiers: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["qualifier"].widget = django_forms.Select(choices=[(q, q) for q in qualifiers])


@tenant_view
def function_concurrency(request: HttpRequest, name: str, *, tenant: Tenant) -> HttpResponse:
    latest = function_selectors.latest_get(tenant=tenant, function_name=name)
    qualifiers = [version.version for version in function_selectors.version_list(tenant=tenant, function_name=name)
                  if not version.is_latest]
    qualifiers += [alias.name for alias in function_selectors.alias_list(tenant=tenant, function_name=name)]
    reservation = quota_selectors.reservation_get(tenant=tenant, function_name=name)
    action = request.POST.get("action", "")
    posted = request.POST if request.method == "POST" else None
    reserved_form = ReservedForm(posted if action == "reserved" else None, initial={
        "reserved_concurrent_executions": reservation.reserved_concurrent_executions if reservation else ""})
    provisioned_form = ProvisionedForm(posted if action == "provisioned" else None, qualifiers=qualifiers)
    done = ""
    if action == "reserved":
        done = _write(reserved_form, lambda: _reserve(tenant, name, request.POST.get(
            "reserved_concurrent_executions", "")), "The reserved concurrency is saved.")
    elif action == "provisioned":
        done = _write(provisioned_form, lambda: _provision(tenant, name, request.POST), "Provisioned concurrency of "
                      f"{request.POST.get('qualifier', '')} is requested; its sandboxes are being initialized.")
    elif action == "provisioned-delete":
        function_services.provisioned_config_delete(tenant=tenant, function_name=name,
                                                    qualifier=request.POST.get("qualifier"))
        done = f"Provisioned concurrency of {request.POST.get('qualifier')} is deleted; its sandboxes are released."
    if done:
        messages.success(request, done)
        return redirect("console:function-concurrency", name=name)
    limits = quota_selectors.tenant_limits(tenant=tenant)
    reserved_total = sum(quota_selectors.reservations(tenant=tenant).values())
    context = tab_context(tenant, latest, "concurrency", reserved_form=reserved_form, reservation=reservation,
                          provisioned_form=provisioned_form, limits=limits,
                          unreserved=max(limits.concurrent_executions - reserved_total, 0),
                          configs=function_selectors.provisioned_config_list(tenant=tenant, function_name=name))
    failed = reserved_form.errors or provisioned_form.errors
    return page(request, "console/function/concurrency.html", context, status=400 if failed else 200)


def _reserve(tenant: Tenant, name: str, typed: str) -> None:
    if not typed.strip():
        quota_services.reservation_delete(tenant=tenant, function_name=name)
        return
    given = forms.api_validated(ReservedConcurrencySerializer, {"reserved_concurrent_executions": forms.typed_number(
        typed)})
    quota_services.reservation_put(tenant=tenant, function_name=name, **given)


def _provision(tenant: Tenant, name: str, data: Any) -> None:
    given = forms.api_validated(ProvisionedConcurrencyPutSerializer, {
        "provisioned_concurrent_executions": forms.typed_number(data.get("provisioned_concurrent_executions", ""))})
    quota_services.provisioned_put(tenant=tenant, function_name=name, qualifier=data.get("qualifier") or None,
                                   requested=given["provisioned_concurrent_executions"])


def _write(form: django_forms.Form, write: Any, success: str) -> str:
    """``success`` once written; empty, with the messages on ``form``, if the API's serializer or service refused."""
    form.is_valid()
    try:
        write()
    except (InvalidParameter, serializers.ValidationError) as failure:
        forms.show_errors(form, failure)
        return ""
    except NotFound as exc:  # a version or alias the function does not have
        form.add_error("qualifier" if "qualifier" in form.fields else None, exc.message)
        return ""
    except Conflict as exc:
        form.add_error(None, exc.message)
        return ""
    return success
