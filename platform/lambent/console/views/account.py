"""Signing in and out, changing one's password, and switching between one's tenants."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from lambent.console import tenancy, throttling
from lambent.errors import NotFound
from lambent.iam.models import Tenant


def sign_in(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method == "GET":
        return redirect(_next(request))
    form, refusal, status = AuthenticationForm(request), "", 200
    if request.method == "POST":
        username = request.POST.get("username", "")
        address = request.META.get("REMOTE_ADDR") or "unknown"
        wait = throttling.locked_for(username=username, address=address)
        if wait:
            form = AuthenticationForm(request, initial={"username": username})
            refusal = f"Too many failed sign-ins as {username} from your address: try again in {_duration(wait)}."
            status = 429
        else:
            form = AuthenticationForm(request, data=request.POST)
            if form.is_valid():
                throttling.clear(username=username, address=address)
                login(request, form.get_user())
                return redirect(_next(request))
            if username and request.POST.get("password"):
                throttling.record_failure(username=username, address=address)
            status = 400
    return render(request, "console/sign_in.html", {"form": form, "refusal": refusal, "next": _next(request)},
                  status=status)


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, "You are signed out.")
    return redirect("console:sign-in")


@tenancy.tenant_view
def password_change(request: HttpRequest, *, tenant: Tenant) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST or None)  # type: ignore[arg-type]
    if request.method == "POST":
        if form.is_valid():
            user = form.save()
            update_session_auth_hash(request, user)  # this session stays signed in; others end
            messages.success(request, "Your password is changed.")
            return redirect("console:functions")
    return tenancy.page(request, "console/password.html", {"form": form, "tenant": tenant},
                        status=400 if form.errors else 200)


@require_POST
@tenancy.tenant_view
def tenant_switch(request: HttpRequest, *, tenant: Tenant) -> HttpResponse:
    try:
        chosen = tenancy.choose(request, tenant_name=request.POST.get("tenant", ""))
    except NotFound as exc:
        raise Http404(exc.message) from None
    messages.info(request, f"You are acting in tenant {chosen.name}.")
    return HttpResponseRedirect(reverse("console:functions"))


def _next(request: HttpRequest) -> str:
    given = request.POST.get("next") or request.GET.get("next") or ""
    if given and url_has_allowed_host_and_scheme(given, allowed_hosts={request.get_host()},
                                                 require_https=request.is_secure()):
        return given
    return reverse(settings.LOGIN_REDIRECT_URL)


def _duration(seconds: int) -> str:
    minutes = (seconds + 59) // 60
    return f"{seconds} seconds" if seconds < 60 else f"{minutes} minute{'s' if minutes != 1 else ''}"
