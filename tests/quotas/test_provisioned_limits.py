"""Provisioned concurrency counts against concurrency as Lambda counts it: a function's
provisioned sandboxes fit in its reservation, and those of functions without one leave the
tenant's unreserved minimum."""

from __future__ import annotations

import pytest

from lambent.functions.models import ProvisionedConcurrencyConfig
from lambent.quotas import services
from tests.quotas.conftest import reserve

CONFIG = "/api/v1/functions/{}/provisioned-concurrency?qualifier={}"


@pytest.fixture
def published(api, create_function):
    """Functions ``hello`` and ``other``, each with version 1 and 2."""
    def publish(name):
        create_function(name)
        api.post(f"/api/v1/functions/{name}/versions", format="json")
        api.patch(f"/api/v1/functions/{name}", {"timeout": 9}, format="json")
        api.post(f"/api/v1/functions/{name}/versions", format="json")

    publish("hello")
    publish("other")


@pytest.fixture
def small_limits(tenant):
    """A limit of 20 with an unreserved minimum of 5: 15 to reserve or provision."""
    services.quota_set(tenant=tenant.tenant, concurrent_executions=20, unreserved_concurrency_minimum=5)


def provision(api, function, qualifier, count):
    return api.put(CONFIG.format(function, qualifier), {"provisioned_concurrent_executions": count}, format="json")


def refused(response, *words):
    assert response.status_code == 400, response.content
    assert response.json()["type"] == "InvalidParameterValueException"
    assert all(word in response.json()["message"] for word in words), response.json()["message"]
    return True


def test_provisioned_sandboxes_fit_in_the_function_reservation(api, published, small_limits):
    assert reserve(api, "hello", 6).status_code == 200
    assert provision(api, "hello", "1", 4).status_code == 202
    assert refused(provision(api, "hello", "2", 3), "(7 for the function in all)", "reservedConcurrentExecution", "(6)")
    assert provision(api, "hello", "2", 2).status_code == 202
    assert provision(api, "hello", "1", 4).status_code == 202  # replacing a config counts it once
    assert sorted(ProvisionedConcurrencyConfig.objects.values_list("qualifier", "requested")) == [("1", 4), ("2", 2)]


def test_a_reservation_cannot_shrink_below_what_is_provisioned(api, published, small_limits):
    reserve(api, "hello", 6)
    provision(api, "hello", "1", 5)
    assert refused(reserve(api, "hello", 4), "less than the 5 sandboxes provisioned")
    assert api.get("/api/v1/functions/hello/concurrency").json() == {"reserved_concurrent_executions": 6}
    assert reserve(api, "hello", 5).status_code == 200


def test_provisioned_sandboxes_without_a_reservation_leave_the_unreserved_minimum(api, published, small_limits):
    assert reserve(api, "other", 10).status_code == 200
    assert refused(provision(api, "hello", "1", 6), "below its minimum value of [5]", "5 can be provisioned")
    assert not ProvisionedConcurrencyConfig.objects.exists()
    assert provision(api, "hello", "1", 5).status_code == 202
    # Now nothing is left to reserve more, nor to lower the limit under what is committed.
    assert refused(reserve(api, "other", 11), "below its minimum value of [5]")
    with pytest.raises(Exception, match="reserve or provision"):
        services.quota_set(tenant=ProvisionedConcurrencyConfig.objects.get().function.tenant,
                           concurrent_executions=19, unreserved_concurrency_minimum=5)
