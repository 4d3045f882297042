"""The functions list (search, sort, pages), creating a function and deleting one."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from rest_framework import serializers

from lambent.console import forms, selectors
from lambent.console.tenancy import page, tenant_view
from lambent.errors import Conflict, InvalidParameter, UserError
from lambent.functions import selectors as function_selectors
from lambent.functions import services as function_services
from lambent.functions.configuration import FunctionConfiguration
from lambent.iam.models import Tenant

PAGE_SIZE = 20


@tenant_view
def function_list(request: HttpRequest, *, tenant: Tenant) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    order = request.GET.get("sort", "name")
    if order not in selectors.FUNCTION_ORDERS:
        order = "name"
    functions = selectors.function_search(tenant=tenant, query=query, order=order)
    shown = Paginator(functions, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(function, function.latest_versions[0]) for function in shown]  # type: ignore[attr-defined]
    return page(request, "console/functions/list.html",
                {"tenant": tenant, "page": shown, "rows": rows, "query": query, "sort": order})


@tenant_view
def function_create(request: HttpRequest, *, tenant: Tenant) -> HttpResponse:
    form = forms.FunctionCreateForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            given = form.configuration()
            function_services.function_create(
                tenant=tenant, name=given["name"], zip_file=form.zip_bytes(),
                configuration=FunctionConfiguration(runtime=given["runtime"], handler=given["handler"]))
        except (InvalidParameter, serializers.ValidationError) as failure:
            if form.cleaned_data["source"] == "editor" and isinstance(failure, InvalidParameter) \
                    and "zip_file" in failure.fields:  # the zip the typed code was put in
                failure.fields["code"] = failure.fields.pop("zip_file")
            forms.show_errors(form, failure)
        except Conflict as exc:
            form.add_error("name", exc.message)
        except UserError as exc:  # the zip: not one, too large, over the code storage limit
            form.add_error("zip_file" if form.cleaned_data["source"] == "zip" else "code", exc.message)
        else:
            messages.success(request, f"Function {given['name']} is created.")
            return redirect("console:function-test", name=given["name"])
    return page(request, "console/functions/create.html", {"tenant": tenant, "form": form},
                status=400 if form.errors else 200)


@tenant_view
def function_delete(request: HttpRequest, name: str, *, tenant: Tenant) -> HttpResponse:
    function = function_selectors.function_get(tenant=tenant, name=name)
    if request.method == "POST":
        if request.POST.get("confirm") != function.name:
            messages.error(request, f"Type {function.name} to confirm.")
            return page(request, "console/functions/delete.html", {"tenant": tenant, "function": function},
                        status=400)
        function_services.function_delete(tenant=tenant, name=name)
        messages.success(request, f"Function {name} is deleted.")
        return redirect("console:functions")
    return page(request, "console/functions/delete.html", {"tenant": tenant, "function": function})
