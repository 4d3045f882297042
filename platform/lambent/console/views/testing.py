"""A function's test tab: saved test events, and invoking ``$LATEST`` with one, synchronously,
through the invoke API's own steps (``routing``, ``prepare_sync``, ``run_recorded``: admission,
the executor, the ledger), then showing the result, the log and its REPORT line."""

from __future__ import annotations

import json
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from lambent.console import forms, selectors, services
from lambent.console.tenancy import page, tenant_view
from lambent.console.views.function import tab_context
from lambent.errors import InvalidParameter, LambentError
from lambent.functions import selectors as function_selectors
from lambent.iam.models import Tenant
from lambent.invocations import services as invocation_services
from lambent.invocations.api.invoke import run_recorded


@dataclass(frozen=True)
class Outcome:
    """What one test invocation gave, as the tab shows it."""

    request_id: str
    function_error: str
    payload: str
    log: str
    report: str
    duration_ms: float | None
    billed_duration_ms: int | None
    memory_size: int
    max_memory_used_mb: int | None
    init_duration_ms: float | None


def invoke(*, tenant: Tenant, function_name: str, payload: str) -> Outcome:
    """Run the function's ``$LATEST`` once with ``payload``, as ``POST .../invoke`` does."""
    routing = invocation_services.routing(tenant=tenant, function_name=function_name, qualifier=None)
    prepared = invocation_services.prepare_sync(tenant=tenant, routing=routing, qualifier=None,
                                                payload=payload.encode())
    result, row = async_to_sync(run_recorded)(prepared)
    report = next((line for line in reversed(row.log_tail.splitlines()) if line.startswith("REPORT ")), "")
    return Outcome(request_id=str(row.request_id), function_error=row.function_error, payload=_pretty(result.payload),
                   log=row.log_tail, report=report.strip(), duration_ms=row.duration_ms,
                   billed_duration_ms=row.billed_duration_ms, memory_size=prepared.version.memory_size,
                   max_memory_used_mb=row.max_memory_used_mb, init_duration_ms=row.init_duration_ms)


def _pretty(payload: bytes) -> str:
    try:
        return json.dumps(json.loads(payload), indent=2)
    except ValueError:
        return payload.decode(errors="replace")


@tenant_view
def function_test(request: HttpRequest, name: str, *, tenant: Tenant) -> HttpResponse:
    latest = function_selectors.latest_get(tenant=tenant, function_name=name)
    events = list(selectors.test_event_list(tenant=tenant, function_name=name))
    chosen = next((event for event in events if event.name == request.GET.get("event")), events[0] if events else None)
    initial = {"name": chosen.name, "payload": chosen.payload} if chosen else None
    form = forms.TestEventForm(request.POST or None, initial=initial)
    outcome, failure = None, ""
    if request.method == "POST" and form.is_valid():
        action = request.POST.get("action", "invoke")
        event_name, payload = form.cleaned_data["name"], form.cleaned_data["payload"]
        if action == "save":
            try:
                services.test_event_save(tenant=tenant, function_name=name, name=event_name, payload=payload)
            except InvalidParameter as exc:
                forms.show_errors(form, exc)
            else:
                messages.success(request, f"Test event {event_name} is saved.")
                return redirect(f"{request.path}?event={event_name}")
        elif action == "delete":
            services.test_event_delete(tenant=tenant, function_name=name, name=event_name)
            messages.success(request, f"Test event {event_name} is deleted.")
            return redirect(request.path)
        else:
            try:
                outcome = invoke(tenant=tenant, function_name=name, payload=payload)
            except LambentError as exc:  # a throttle, a payload that is not JSON, the executor away
                failure = exc.message
    context = tab_context(tenant, latest, "test", form=form, events=events, chosen=chosen, outcome=outcome,
                          failure=failure)
    return page(request, "console/function/test.html", context, status=400 if form.errors else 200)
