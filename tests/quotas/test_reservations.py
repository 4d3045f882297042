"""Reserved concurrency through the API, the unreserved minimum it must leave, and the
operator's overrides of a tenant's limits (``lambent quota``, the admin)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from lambent.quotas.models import ReservedConcurrency, TenantQuota
from tests.conftest import client_for
from tests.quotas.conftest import reserve

MINIMUM_MESSAGE = ("Specified ReservedConcurrentExecutions for function decreases account's "
                   "UnreservedConcurrentExecution below its minimum value of [{}].")


def test_a_reservation_is_put_read_and_removed(api, create_function):
    create_function("hello")
    assert api.get("/api/v1/functions/hello/concurrency").json() == {}

    response = reserve(api, "hello", 10)

    assert response.status_code == 200, response.content
    assert response.json() == {"reserved_concurrent_executions": 10}
    assert api.get("/api/v1/functions/hello/concurrency").json() == {"reserved_concurrent_executions": 10}
    assert reserve(api, "hello", 0).json() == {"reserved_concurrent_executions": 0}
    assert api.delete("/api/v1/functions/hello/concurrency").status_code == 204
    assert api.get("/api/v1/functions/hello/concurrency").json() == {}
    assert api.delete("/api/v1/functions/hello/concurrency").status_code == 204  # nothing left to remove


@pytest.mark.parametrize("value", [-1, "many", 1.5, None, True, [3]])
def test_bad_values_are_400_and_store_nothing(api, create_function, value):
    create_function("hello")
    response = reserve(api, "hello", value)
    assert response.status_code == 400, response.content
    assert response.json()["type"] == "InvalidParameterValueException"
    assert "reserved_concurrent_executions" in response.json()["fields"]
    assert not ReservedConcurrency.objects.exists()


def test_a_missing_body_is_400(api, create_function):
    create_function("hello")
    response = api.put("/api/v1/functions/hello/concurrency", {}, format="json")
    assert response.status_code == 400 and "reserved_concurrent_executions" in response.json()["fields"]


def test_reservations_must_leave_the_unreserved_minimum(api, create_function):
    create_function("one")
    create_function("two")
    assert reserve(api, "one", 500).status_code == 200

    refused = reserve(api, "two", 401)  # 1000 - 500 - 401 = 99 < 100

    assert refused.status_code == 400
    assert refused.json()["message"] == MINIMUM_MESSAGE.format(100)
    assert refused.json()["type"] == "InvalidParameterValueException"
    assert api.get("/api/v1/functions/two/concurrency").json() == {}
    assert reserve(api, "two", 400).status_code == 200  # exactly the minimum left
    assert reserve(api, "one", 501).status_code == 400  # a function's new value replaces its old one
    assert reserve(api, "one", 100).status_code == 200
    assert api.get("/api/v1/account").json()["account_limit"]["unreserved_concurrent_executions"] == 500


def test_another_tenants_function_is_404(api, create_function, make_tenant):
    create_function("hello")
    intruder = client_for(make_tenant("intruder"))
    for response in (intruder.get("/api/v1/functions/hello/concurrency"), reserve(intruder, "hello", 1),
                     intruder.delete("/api/v1/functions/hello/concurrency")):
        assert response.status_code == 404
        assert response.json()["type"] == "ResourceNotFoundException"
    assert reserve(api, "missing", 1).status_code == 404
    assert not ReservedConcurrency.objects.exists()


def test_deleting_the_function_deletes_its_reservation(api, create_function):
    create_function("hello")
    reserve(api, "hello", 3)
    assert api.delete("/api/v1/functions/hello").status_code == 204
    assert not ReservedConcurrency.objects.exists()
    create_function("hello")
    assert api.get("/api/v1/functions/hello/concurrency").json() == {}


def test_the_defaults_come_from_the_settings(api, create_function, settings):
    settings.CONCURRENT_EXECUTIONS = 50
    settings.UNRESERVED_CONCURRENCY_MINIMUM = 10
    create_function("hello")
    refused = reserve(api, "hello", 41)
    assert refused.status_code == 400 and refused.json()["message"] == MINIMUM_MESSAGE.format(10)
    assert reserve(api, "hello", 40).status_code == 200


def quota(*args: str) -> dict:
    out = StringIO()
    call_command("quota", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_the_quota_command_shows_and_overrides_a_tenants_limits(api, tenant, create_function):
    create_function("hello")
    shown = quota("acme")
    assert shown == {"tenant": "acme", "account_id": tenant.tenant.account_id, "concurrent_executions": 1000,
                     "concurrent_executions_is_default": True, "unreserved_concurrency_minimum": 100,
                     "unreserved_concurrency_minimum_is_default": True, "reserved_concurrent_executions": 0,
                     "unreserved_concurrent_executions": 1000}

    changed = quota("acme", "--concurrent-executions", "30", "--unreserved-minimum", "5")

    assert (changed["concurrent_executions"], changed["unreserved_concurrency_minimum"]) == (30, 5)
    assert reserve(api, "hello", 26).json()["message"] == MINIMUM_MESSAGE.format(5)
    assert reserve(api, "hello", 25).status_code == 200
    assert quota("acme")["unreserved_concurrent_executions"] == 5
    # Only the option given changes; 'default' removes an override.
    assert quota("acme", "--concurrent-executions", "default")["concurrent_executions_is_default"]
    assert quota("acme")["unreserved_concurrency_minimum"] == 5
    assert TenantQuota.objects.get().concurrent_executions is None


def test_the_quota_command_refuses_limits_the_reservations_break(api, create_function):
    create_function("hello")
    reserve(api, "hello", 500)
    with pytest.raises(CommandError, match="reserve or provision; lower those first"):
        call_command("quota", "acme", "--concurrent-executions", "550")
    assert not TenantQuota.objects.exists()
    with pytest.raises(CommandError, match="not found"):
        call_command("quota", "nobody")
    text = StringIO()
    call_command("quota", "acme", stdout=text)
    assert "concurrent executions:  1000  (default)" in text.getvalue()
    assert "reserved by functions:  500" in text.getvalue()


def test_the_admin_overrides_a_quota_with_the_same_rule(client, django_user_model, api, tenant, create_function):
    create_function("hello")
    reserve(api, "hello", 500)
    client.force_login(django_user_model.objects.create_superuser("operator", "op@example.com", "pw"))
    form = {"tenant": tenant.tenant.pk, "concurrent_executions": "550", "unreserved_concurrency_minimum": ""}

    refused = client.post("/admin/quotas/tenantquota/add/", form)

    assert refused.status_code == 200 and "reserve or provision; lower those first" in refused.content.decode()
    assert not TenantQuota.objects.exists()
    accepted = client.post("/admin/quotas/tenantquota/add/", {**form, "concurrent_executions": "600"})
    assert accepted.status_code == 302
    assert api.get("/api/v1/account").json()["account_limit"]["concurrent_executions"] == 600
