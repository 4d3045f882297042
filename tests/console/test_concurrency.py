"""A function's concurrency tab: reserved concurrency against the tenant's limit, and provisioned
concurrency per version or alias with its status; the API's messages beside the fields."""

from __future__ import annotations

import pytest

from lambent.functions.models import ProvisionedConcurrencyConfig
from lambent.functions.services import alias_create, version_publish
from lambent.quotas.models import ReservedConcurrency
from lambent.quotas.services import reservation_put
from tests.console.conftest import errors_of, make_function

pytestmark = pytest.mark.django_db

TAB = "/console/functions/hello/concurrency"


def reserved() -> list[int]:
    return list(ReservedConcurrency.objects.values_list("reserved_concurrent_executions", flat=True))


def test_reserve_zero_stops_it_and_empty_removes_it(signed_in, member):
    make_function(member.tenant)
    assert "shares the unreserved pool" in signed_in.get(TAB).content.decode()
    response = signed_in.submit(TAB, {"action": "reserved", "reserved_concurrent_executions": "0"})
    assert response.status_code == 302 and response["Location"] == TAB
    assert reserved() == [0]
    assert "it is stopped" in signed_in.get(TAB).content.decode()
    assert signed_in.submit(TAB, {"action": "reserved", "reserved_concurrent_executions": ""}).status_code == 302
    assert reserved() == []


@pytest.mark.parametrize("typed,message", [
    ("-1", "Ensure this value is greater than or equal to 0."),
    ("many", "Must be an integer."),
    ("100000", "decreases account's UnreservedConcurrentExecution below its minimum value"),
])
def test_a_bad_reservation_shows_the_message_and_keeps_the_old_one(signed_in, member, typed, message):
    make_function(member.tenant)
    reservation_put(tenant=member.tenant, function_name="hello", reserved_concurrent_executions=5)
    response = signed_in.submit(TAB, {"action": "reserved", "reserved_concurrent_executions": typed})
    assert response.status_code == 400
    assert any(message in error for error in errors_of(response, field="reserved_concurrent_executions")), \
        errors_of(response)
    assert reserved() == [5]


def test_provision_a_version_see_its_status_and_delete_it(signed_in, member):
    make_function(member.tenant)
    version_publish(tenant=member.tenant, function_name="hello")
    response = signed_in.submit(TAB, {"action": "provisioned", "qualifier": "1",
                                      "provisioned_concurrent_executions": "2"})
    assert response.status_code == 302
    config = ProvisionedConcurrencyConfig.objects.get()
    assert (config.qualifier, config.requested, config.status) == ("1", 2, "IN_PROGRESS")
    page = signed_in.get(TAB).content.decode()
    assert "IN_PROGRESS" in page and '<option value="1">' in page and '<option value="$LATEST"' not in page
    response = signed_in.submit(TAB, {"action": "provisioned-delete", "qualifier": "1"})
    assert response.status_code == 302
    assert not ProvisionedConcurrencyConfig.objects.exists()
    assert signed_in.submit(TAB, {"action": "provisioned-delete", "qualifier": "1"}).status_code == 404


@pytest.mark.parametrize("data,field,message", [
    ({"provisioned_concurrent_executions": "0"}, "provisioned_concurrent_executions", "greater than or equal to 1"),
    ({"provisioned_concurrent_executions": "4"}, "provisioned_concurrent_executions",
     "should not be greater than the reservedConcurrentExecution for function (3)"),
    ({"qualifier": "$LATEST"}, "qualifier", "cannot be applied to unpublished function versions"),
    ({"qualifier": "9"}, "qualifier", "Function not found"),
])
def test_bad_provisioning_shows_the_message_and_provisions_nothing(signed_in, member, data, field, message):
    make_function(member.tenant)
    version_publish(tenant=member.tenant, function_name="hello")
    reservation_put(tenant=member.tenant, function_name="hello", reserved_concurrent_executions=3)
    response = signed_in.submit(TAB, {"action": "provisioned", "qualifier": "1",
                                      "provisioned_concurrent_executions": "1", **data})
    assert response.status_code == 400
    assert any(message in error for error in errors_of(response, field=field)), errors_of(response)
    assert not ProvisionedConcurrencyConfig.objects.exists()


def test_a_version_and_an_alias_routing_to_it_cannot_both_be_provisioned(signed_in, member):
    make_function(member.tenant)
    version_publish(tenant=member.tenant, function_name="hello")
    alias_create(tenant=member.tenant, function_name="hello", name="live", function_version="1")
    assert signed_in.submit(TAB, {"action": "provisioned", "qualifier": "1",
                                  "provisioned_concurrent_executions": "1"}).status_code == 302
    response = signed_in.submit(TAB, {"action": "provisioned", "qualifier": "live",
                                      "provisioned_concurrent_executions": "1"})
    assert response.status_code == 400
    assert any("Alias live routes to version 1" in error for error in errors_of(response))
    assert list(ProvisionedConcurrencyConfig.objects.values_list("qualifier", flat=True)) == ["1"]
