"""A function's asynchronous invocation tab: the event invoke config of a qualifier (retries,
maximum event age, destinations) and the function's dead-letter target. The API's serializers
take the typed values in and ``lambent.invocations.event_configs`` writes them, as the API does."""

from __future__ import annotations

from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import urlencode
from rest_framework import serializers

from lambent.console import forms
from lambent.console.tenancy import page, tenant_view
from lambent.console.views.function import tab_context
from lambent.errors import InvalidParameter, NotFound
from lambent.functions import selectors as function_selectors
from lambent.functions.models import LATEST
from lambent.iam.models import Tenant
from lambent.invocations import event_configs
from lambent.invocations.api.serializers import DeadLetterConfigSerializer
from lambent.invocations.models import DEFAULT_MAXIMUM_EVENT_AGE_SECONDS, DEFAULT_MAXIMUM_RETRY_ATTEMPTS


@tenant_view
def function_asynchronous(request: HttpRequest, name: str, *, tenant: Tenant) -> HttpResponse:
    latest = function_selectors.latest_get(tenant=tenant, function_name=name)
    qualifiers = [version.version for version in function_selectors.version_list(tenant=tenant, function_name=name)]
    qualifiers += [alias.name for alias in function_selectors.alias_list(tenant=tenant, function_name=name)]
    qualifier = request.GET.get("qualifier") or LATEST
    if qualifier not in qualifiers:
        raise NotFound(f"Function not found: {name}:{qualifier}")
    configs = {config.qualifier: config for config in event_configs.event_invoke_config_list(tenant=tenant,
                                                                                            function_name=name)}
    current = configs.get(qualifier)
    initial: dict[str, Any] = {"maximum_retry_attempts": DEFAULT_MAXIMUM_RETRY_ATTEMPTS,
                               "maximum_event_age_seconds": DEFAULT_MAXIMUM_EVENT_AGE_SECONDS}
    if current is not None:
        initial = {"maximum_retry_attempts": current.maximum_retry_attempts, "on_success": current.on_success,
                   "maximum_event_age_seconds": current.maximum_event_age_seconds, "on_failure": current.on_failure}
    dead_letter = event_configs.dead_letter_target(function=latest.function)
    posted = request.POST if request.method == "POST" else None
    action = request.POST.get("action", "config")
    form = forms.EventInvokeForm(posted if action == "config" else None, initial=initial)
    dead_letter_form = forms.DeadLetterForm(posted if action == "dead-letter" else None,
                                            initial={"target": dead_letter})
    back = f"{request.path}?{urlencode({'qualifier': qualifier})}"
    if posted is not None and action == "config":
        if _write(form, lambda: event_configs.event_invoke_config_put(
                tenant=tenant, function_name=name, qualifier=qualifier, changes=form.changes(), replace=True)):
            messages.success(request, f"The asynchronous configuration of {qualifier} is saved.")
            return redirect(back)
    elif posted is not None and action == "dead-letter":
        if _write(dead_letter_form, lambda: _dead_letter_put(tenant, name, request.POST.get("target", ""))):
            messages.success(request, "The dead-letter target is saved.")
            return redirect(back)
    context = tab_context(tenant, latest, "asynchronous", form=form, dead_letter_form=dead_letter_form,
                          qualifier=qualifier, qualifiers=qualifiers, configured=sorted(configs))
    failed = form.errors or dead_letter_form.errors
    return page(request, "console/function/asynchronous.html", context, status=400 if failed else 200)


def _dead_letter_put(tenant: Tenant, name: str, target: str) -> None:
    if not target:
        event_configs.dead_letter_config_remove(tenant=tenant, function_name=name)
        return
    given = forms.api_validated(DeadLetterConfigSerializer, {"target": target})
    event_configs.dead_letter_config_put(tenant=tenant, function_name=name, target=given["target"])


def _write(form: django_forms.Form, write: Any) -> bool:
    try:
        write()
    except (InvalidParameter, serializers.ValidationError) as failure:
        form.is_valid()
        forms.show_errors(form, failure)
        return False
    return True
