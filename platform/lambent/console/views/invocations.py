"""A function's invocations tab (the ledger, filtered by status and acceptance time) and one
invocation's page (its attempts and log; cancel and redrive for asynchronous ones). The reads and
writes are the REST API's: its filter serializer, ``lambent.invocations.selectors`` after the
ledger writer has written what this process holds, and ``asynchronous.cancel``/``redrive``."""

from __future__ import annotations

from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import urlencode
from django.views.decorators.http import require_POST
from rest_framework import serializers

from lambent.console import forms
from lambent.console.tenancy import page, tenant_view
from lambent.console.views.function import tab_context
from lambent.errors import Conflict, InvalidParameter, NotFound
from lambent.functions import selectors as function_selectors
from lambent.iam.models import Tenant
from lambent.invocations import asynchronous, ledger_writer, selectors
from lambent.invocations.api.serializers import InvocationFilterSerializer, RedriveSerializer
from lambent.invocations.asynchronous import PENDING, REDRIVABLE
from lambent.invocations.models import Invocation, InvocationStatus, InvocationType

PAGE_SIZE = 25


class FilterForm(django_forms.Form):
    """The ledger's filters, as typed; the API's filter serializer reads them."""

    status = django_forms.CharField(required=False, widget=django_forms.Select(
        choices=[("", "Any status")] + [(value, value) for value in InvocationStatus.values]))
    since = django_forms.CharField(required=False, label="Accepted since",
                                   widget=django_forms.DateTimeInput(attrs={"type": "datetime-local", "step": 1}))
    until = django_forms.CharField(required=False, label="Accepted before",
                                   widget=django_forms.DateTimeInput(attrs={"type": "datetime-local", "step": 1}))


@tenant_view
def function_invocations(request: HttpRequest, name: str, *, tenant: Tenant) -> HttpResponse:
    latest = function_selectors.latest_get(tenant=tenant, function_name=name)
    form = FilterForm(request.GET)
    typed = {field: request.GET[field] for field in form.fields if request.GET.get(field)}
    shown = None
    try:
        filters = forms.api_validated(InvocationFilterSerializer, typed)
    except serializers.ValidationError as failure:
        form.is_valid()
        forms.show_errors(form, failure)
    else:
        ledger_writer.write_waiting()
        invocations = selectors.invocation_list(tenant=tenant, function_name=name, **filters).order_by("-id")
        shown = Paginator(invocations, PAGE_SIZE).get_page(request.GET.get("page"))
    query = urlencode(typed)
    return page(request, "console/function/invocations.html",
                tab_context(tenant, latest, "invocations", form=form, page=shown, query=query),
                status=400 if form.errors else 200)


@tenant_view
def invocation_detail(request: HttpRequest, request_id: str, *, tenant: Tenant) -> HttpResponse:
    ledger_writer.write_waiting()
    invocation = selectors.invocation_get(tenant=tenant, request_id=request_id)
    return _invocation_page(request, tenant, invocation, form=RedriveForm())


class RedriveForm(django_forms.Form):
    qualifier = django_forms.CharField(required=False, strip=False, label="Run on",
                                       help_text="Another version or alias; empty for its own.")


@require_POST
@tenant_view
def invocation_cancel(request: HttpRequest, request_id: str, *, tenant: Tenant) -> HttpResponse:
    try:
        asynchronous.cancel(tenant=tenant, request_id=request_id)
    except Conflict as exc:  # synchronous, or no longer queued or retrying
        return _refused(request, tenant, request_id, RedriveForm({}), exc.message, status=409)
    messages.success(request, f"Invocation {request_id} is cancelled.")
    return redirect("console:invocation", request_id=request_id)


@require_POST
@tenant_view
def invocation_redrive(request: HttpRequest, request_id: str, *, tenant: Tenant) -> HttpResponse:
    form = RedriveForm(request.POST)
    selectors.invocation_get(tenant=tenant, request_id=request_id)  # another tenant's is not found
    try:
        given = forms.api_validated(RedriveSerializer, {"qualifier": request.POST.get("qualifier", "")})
        asynchronous.redrive(tenant=tenant, request_id=request_id, qualifier=given.get("qualifier") or None)
    except (InvalidParameter, serializers.ValidationError) as failure:
        form.is_valid()
        forms.show_errors(form, failure)
        return _refused(request, tenant, request_id, form, "", status=400)
    except Conflict as exc:
        return _refused(request, tenant, request_id, form, exc.message, status=409)
    except NotFound as exc:  # the qualifier to run it on, or its function, is not there (any more)
        form.is_valid()
        form.add_error("qualifier", exc.message)
        return _refused(request, tenant, request_id, form, "", status=400)
    messages.success(request, f"Invocation {request_id} is queued again.")
    return redirect("console:invocation", request_id=request_id)


def _refused(request: HttpRequest, tenant: Tenant, request_id: str, form: django_forms.Form, message: str, *,
             status: int) -> HttpResponse:
    invocation = selectors.invocation_get(tenant=tenant, request_id=request_id)
    form.is_valid()
    if message:
        form.add_error(None, message)
    return _invocation_page(request, tenant, invocation, form=form, status=status)


def _invocation_page(request: HttpRequest, tenant: Tenant, invocation: Invocation, *, form: django_forms.Form,
                     status: int = 200) -> HttpResponse:
    asynchronous_one = invocation.invocation_type == InvocationType.EVENT
    context: dict[str, Any] = {
        "tenant": tenant, "invocation": invocation, "attempts": list(invocation.attempts.all()), "form": form,
        "cancellable": asynchronous_one and invocation.status in PENDING,
        "redrivable": asynchronous_one and invocation.status in REDRIVABLE,
        "function_exists": invocation.function_id is not None,
    }
    return page(request, "console/invocation.html", context, status=status)
