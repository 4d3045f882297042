"""A function's versions tab (publish, list, delete) and aliases tab (create, point at a version,
weight a second one). Each write is the REST API's: its serializer takes the typed values in, the
service it calls writes them, and their messages are shown beside the fields."""

from __future__ import annotations

from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST
from rest_framework import serializers

from lambent.console import forms
from lambent.console.tenancy import page, tenant_view
from lambent.console.views.function import tab_context
from lambent.errors import Conflict, InvalidParameter, NotFound
from lambent.functions import selectors as function_selectors
from lambent.functions import services as function_services
from lambent.iam.models import Tenant


@tenant_view
def function_versions(request: HttpRequest, name: str, *, tenant: Tenant) -> HttpResponse:
    latest = function_selectors.latest_get(tenant=tenant, function_name=name)
    form = forms.PublishForm(request.POST or None)
    if request.method == "POST":
        try:
            changes = form.changes()
            version, created = function_services.version_publish(tenant=tenant, function_name=name, **changes)
        except (InvalidParameter, serializers.ValidationError) as failure:
            forms.show_errors(form, failure)
        else:
            if created:
                messages.success(request, f"Version {version.version} is published.")
            else:
                messages.info(request, f"$LATEST is unchanged since version {version.version}: nothing to publish.")
            return redirect("console:function-versions", name=name)
    return _versions_page(request, tenant, latest, form=form, status=400 if form.errors else 200)


@require_POST
@tenant_view
def version_delete(request: HttpRequest, name: str, version: str, *, tenant: Tenant) -> HttpResponse:
    latest = function_selectors.latest_get(tenant=tenant, function_name=name)
    try:
        function_services.version_delete(tenant=tenant, function_name=name, version=version)
    except Conflict as exc:  # $LATEST, or a version an alias uses
        form = forms.PublishForm({})
        form.is_valid()  # bound and cleaned, to take the message
        form.add_error(None, exc.message)
        return _versions_page(request, tenant, latest, form=form, status=409)
    messages.success(request, f"Version {version} is deleted.")
    return redirect("console:function-versions", name=name)


def _versions_page(request: HttpRequest, tenant: Tenant, latest: Any, *, form: django_forms.Form,
                   status: int) -> HttpResponse:
    name = latest.function.name
    versions = list(function_selectors.version_list(tenant=tenant, function_name=name))[::-1]  # newest first
    aliases = function_selectors.alias_list(tenant=tenant, function_name=name)
    used: dict[str, list[str]] = {}
    for alias in aliases:
        for version in (alias.version, alias.additional_version):
            if version is not None:
                used.setdefault(version.version, []).append(alias.name)
    rows = [(version, used.get(version.version, [])) for version in versions]
    return page(request, "console/function/versions.html",
                tab_context(tenant, latest, "versions", form=form, rows=rows), status=status)


def _version_names(tenant: Tenant, name: str) -> list[str]:
    return [version.version for version in function_selectors.version_list(tenant=tenant, function_name=name)][::-1]


@tenant_view
def function_aliases(request: HttpRequest, name: str, *, tenant: Tenant) -> HttpResponse:
    latest = function_selectors.latest_get(tenant=tenant, function_name=name)
    form = forms.AliasForm(request.POST or None, versions=_version_names(tenant, name))
    if request.method == "POST":
        if _write(form, lambda changes: function_services.alias_create(tenant=tenant, function_name=name,
                                                                       **changes)):
            messages.success(request, f"Alias {request.POST.get('name')} is created.")
            return redirect("console:function-aliases", name=name)
    aliases = function_selectors.alias_list(tenant=tenant, function_name=name)
    return page(request, "console/function/aliases.html",
                tab_context(tenant, latest, "aliases", form=form, aliases=aliases),
                status=400 if form.errors else 200)


@tenant_view
def alias_edit(request: HttpRequest, name: str, alias: str, *, tenant: Tenant) -> HttpResponse:
    latest = function_selectors.latest_get(tenant=tenant, function_name=name)
    found = function_selectors.alias_get(tenant=tenant, function_name=name, name=alias)
    extra = found.additional_version
    initial = {"function_version": found.version.version, "description": found.description,
               "additional_version": extra.version if extra else "",
               "weight": f"{(found.additional_weight or 0) * 100:g}"}
    form = forms.AliasForm(request.POST or None, initial=initial, versions=_version_names(tenant, name), editing=True)
    if request.method == "POST":
        if _write(form, lambda changes: function_services.alias_update(tenant=tenant, function_name=name, name=alias,
                                                                       changes=changes)):
            messages.success(request, f"Alias {alias} is saved.")
            return redirect("console:function-aliases", name=name)
    return page(request, "console/function/alias.html", tab_context(tenant, latest, "aliases", form=form, alias=found),
                status=400 if form.errors else 200)


@require_POST
@tenant_view
def alias_delete(request: HttpRequest, name: str, alias: str, *, tenant: Tenant) -> HttpResponse:
    function_services.alias_delete(tenant=tenant, function_name=name, name=alias)
    messages.success(request, f"Alias {alias} is deleted.")
    return redirect("console:function-aliases", name=name)


def _write(form: forms.AliasForm, write: Any) -> bool:
    """Validate and write; False with the messages on ``form`` if the API's serializer or service refused."""
    try:
        write(form.changes())
    except (InvalidParameter, serializers.ValidationError) as failure:
        forms.show_errors(form, forms.weights_beside_version(failure))
        return False
    except NotFound as exc:  # a version typed that the function does not have
        form.add_error("function_version", exc.message)
        return False
    except Conflict as exc:
        form.add_error("name" if "name" in form.fields else None, exc.message)
        return False
    return True
