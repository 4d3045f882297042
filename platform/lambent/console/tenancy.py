"""Which tenant a signed-in user acts in: the one chosen in the session, if the user is still a
member of it, else the first of theirs by name. Membership is checked on every request, so a user
removed from a tenant loses it at once, whatever the session says.

``tenant_view`` wraps every tenant page: signed out, it sends the browser to the sign-in page;
a user of no tenant gets a 403 page; a ``NotFound`` from a service or a selector (another
tenant's function among them) is the console's 404 page.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from lambent.errors import NotFound
from lambent.iam import selectors as iam_selectors
from lambent.iam.models import Tenant

SESSION_KEY = "console_tenant_id"

TenantView = Callable[..., HttpResponse]


def tenants(request: HttpRequest) -> list[Tenant]:
    if request.user.pk is None:
        return []
    return list(iam_selectors.tenants_of(user_id=request.user.pk))


def current_tenant(request: HttpRequest) -> Tenant | None:
    available = tenants(request)
    chosen = request.session.get(SESSION_KEY)
    return next((tenant for tenant in available if tenant.pk == chosen), available[0] if available else None)


def choose(request: HttpRequest, *, tenant_name: str) -> Tenant:
    """Act in ``tenant_name`` from now on; a tenant the user is not a member of is not found."""
    tenant = next((tenant for tenant in tenants(request) if tenant.name == tenant_name), None)
    if tenant is None:
        raise NotFound(f"tenant {tenant_name!r} not found")
    request.session[SESSION_KEY] = tenant.pk
    return tenant


def tenant_view(view: TenantView) -> TenantView:
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        tenant = current_tenant(request)
        if tenant is None:
            raise PermissionDenied("You are not a member of any tenant: ask an operator to add you to one.")
        try:
            return view(request, *args, tenant=tenant, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from None

    return wrapped


def page(request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
    """A tenant page: ``context`` holds ``tenant``; the header's switcher gets the user's tenants."""
    return render(request, template, {**context, "tenants": tenants(request)}, status=status)
