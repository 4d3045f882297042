"""The tenant's access keys: issue one to the signed-in user (its secret shown on this one answer
and never again: it is not kept in the session, and the page is not cached), deactivate, delete.
The writes are the iam services the ``lambent tenant key`` command uses."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from lambent.console.tenancy import page, tenant_view
from lambent.iam import selectors as iam_selectors
from lambent.iam import services as iam_services
from lambent.iam.models import Tenant


@never_cache
@tenant_view
def access_keys(request: HttpRequest, *, tenant: Tenant) -> HttpResponse:
    issued = None
    if request.method == "POST":
        issued = iam_services.access_key_issue(tenant=tenant, user=request.user)  # type: ignore[arg-type]
    keys = iam_selectors.access_key_list(tenant=tenant)
    return page(request, "console/access_keys.html", {"tenant": tenant, "keys": keys, "issued": issued},
                status=201 if issued else 200)


@require_POST
@tenant_view
def access_key_deactivate(request: HttpRequest, access_key_id: str, *, tenant: Tenant) -> HttpResponse:
    iam_services.access_key_deactivate(tenant=tenant, access_key_id=access_key_id)
    messages.success(request, f"Access key {access_key_id} is deactivated: requests made with it are refused.")
    return redirect("console:access-keys")


@require_POST
@tenant_view
def access_key_delete(request: HttpRequest, access_key_id: str, *, tenant: Tenant) -> HttpResponse:
    iam_services.access_key_delete(tenant=tenant, access_key_id=access_key_id)
    messages.success(request, f"Access key {access_key_id} is deleted.")
    return redirect("console:access-keys")
