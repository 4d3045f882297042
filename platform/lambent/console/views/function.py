"""A function's tabs: configuration and environment variables. Each write is the REST API's: its
serializer takes the typed values in, its service (``function_update_configuration``) writes them."""

from __future__ import annotations

from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from rest_framework import serializers

from lambent.console import forms
from lambent.console.tenancy import page, tenant_view
from lambent.errors import InvalidParameter, PreconditionFailed
from lambent.functions import selectors as function_selectors
from lambent.functions import services as function_services
from lambent.functions.api.serializers import FunctionConfigurationUpdateSerializer
from lambent.functions.models import Version
from lambent.iam.models import Tenant

CONFIGURATION_FIELDS = ("runtime", "handler", "memory_size", "timeout", "ephemeral_storage", "description")


def tab_context(tenant: Tenant, latest: Version, tab: str, **more: Any) -> dict[str, Any]:
    return {"tenant": tenant, "function": latest.function, "latest": latest, "tab": tab, **more}


@tenant_view
def function_configuration(request: HttpRequest, name: str, *, tenant: Tenant) -> HttpResponse:
    latest = function_selectors.latest_get(tenant=tenant, function_name=name)
    initial = {field: getattr(latest, field) for field in CONFIGURATION_FIELDS}
    form = forms.ConfigurationForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if _update(form, tenant=tenant, name=name, changes=form.changes):
            messages.success(request, "The configuration is saved.")
            return redirect("console:function-configuration", name=name)
    return page(request, "console/function/configuration.html",
                tab_context(tenant, latest, "configuration", form=form), status=400 if form.errors else 200)


@tenant_view
def function_environment(request: HttpRequest, name: str, *, tenant: Tenant) -> HttpResponse:
    latest = function_selectors.latest_get(tenant=tenant, function_name=name)
    form = django_forms.Form(request.POST or None)
    rows = sorted(latest.environment.items())
    if request.method == "POST":
        rows = forms.environment_rows(request.POST)
        variables = dict(rows)
        if len(variables) < len(rows):
            form.add_error(None, "environment: Each variable name may appear once.")
        elif _update(form, tenant=tenant, name=name, changes=lambda: _environment_changes(variables)):
            messages.success(request, "The environment variables are saved.")
            return redirect("console:function-environment", name=name)
    return page(request, "console/function/environment.html",
                tab_context(tenant, latest, "environment", form=form, rows=rows),
                status=400 if form.errors else 200)


def _environment_changes(variables: dict[str, str]) -> dict[str, Any]:
    return forms.api_validated(FunctionConfigurationUpdateSerializer, {"environment": variables})


def _update(form: django_forms.Form, *, tenant: Tenant, name: str, changes: Any) -> bool:
    """Validate and write; False with the messages on ``form`` if the API's serializer or service refused."""
    try:
        function_services.function_update_configuration(tenant=tenant, name=name, changes=changes())
    except (InvalidParameter, serializers.ValidationError) as failure:
        forms.show_errors(form, failure)
        return False
    except PreconditionFailed as exc:
        form.add_error(None, exc.message)
        return False
    return True
