"""Provisioned concurrency configs through the native API: validation, conflicts, tenancy, the reconcile sent."""

import pytest

from lambent.functions import services
from lambent.functions.models import ProvisionedConcurrencyConfig
from tests.conftest import client_for

CONFIG = "/api/v1/functions/hello/provisioned-concurrency"
CONFIGS = "/api/v1/functions/hello/provisioned-concurrency-configs"
UNPUBLISHED = "Provisioned Concurrency Configs cannot be applied to unpublished function versions."


@pytest.fixture
def published(api, create_function):
    """Versions 1 and 2; alias ``live`` on 1, ``canary`` on 1 with 20% to 2, ``edge`` on $LATEST."""
    create_function()
    for timeout in (3, 4):
        api.patch("/api/v1/functions/hello", {"timeout": timeout}, format="json")
        api.post("/api/v1/functions/hello/versions", format="json")
    for name, version, weights in (("live", "1", {}), ("canary", "1", {"2": 0.2}), ("edge", "$LATEST", {})):
        body = {"name": name, "function_version": version, "additional_version_weights": weights}
        assert api.post("/api/v1/functions/hello/aliases", body, format="json").status_code == 201


def put(api, qualifier, count):
    return api.put(f"{CONFIG}?qualifier={qualifier}", {"provisioned_concurrent_executions": count}, format="json")


def test_put_get_list_delete(api, published, tenant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as sent:
        response = put(api, "live", 3)
    assert response.status_code == 202, response.content
    assert services.reconcile_provisioned_soon in sent  # READY comes from the reconcile, sent at once
    config = response.json()
    assert config == {
        "function_name": "hello", "function_arn": f"arn:aws:lambda:us-east-1:{tenant.tenant.account_id}:function:"
        "hello:live", "qualifier": "live", "requested_provisioned_concurrent_executions": 3,
        "available_provisioned_concurrent_executions": 0, "allocated_provisioned_concurrent_executions": 0,
        "status": "IN_PROGRESS", "status_reason": "", "last_modified": config["last_modified"],
    }
    assert api.get(f"{CONFIG}?qualifier=live").json() == config
    assert put(api, "2", 1).status_code == 202
    assert [(c["qualifier"], c["requested_provisioned_concurrent_executions"])
            for c in api.get(CONFIGS).json()["results"]] == [("2", 1), ("live", 3)]
    assert put(api, "live", 5).json()["requested_provisioned_concurrent_executions"] == 5
    with django_capture_on_commit_callbacks() as sent:
        assert api.delete(f"{CONFIG}?qualifier=live").status_code == 204
    assert services.reconcile_provisioned_soon in sent
    assert api.get(f"{CONFIG}?qualifier=live").status_code == 404
    assert [c["qualifier"] for c in api.get(CONFIGS).json()["results"]] == ["2"]


def test_a_put_starts_over_from_in_progress(api, published):
    put(api, "1", 2)
    ProvisionedConcurrencyConfig.objects.update(status="FAILED", status_reason="init failed", allocated=0)
    again = put(api, "1", 2).json()
    assert (again["status"], again["status_reason"]) == ("IN_PROGRESS", "")


@pytest.mark.parametrize("qualifier", ["$LATEST", "edge"])
def test_unpublished_versions_are_refused(api, published, qualifier):
    response = put(api, qualifier, 1)
    assert response.status_code == 400
    assert response.json()["message"] == UNPUBLISHED
    assert not ProvisionedConcurrencyConfig.objects.exists()


@pytest.mark.parametrize("body", [
    {"provisioned_concurrent_executions": 0}, {"provisioned_concurrent_executions": -1},
    {"provisioned_concurrent_executions": 1001}, {"provisioned_concurrent_executions": "many"},
    {"provisioned_concurrent_executions": True}, {"provisioned_concurrent_executions": None}, {},
])
def test_bad_counts_are_refused(api, published, body):
    response = api.put(f"{CONFIG}?qualifier=live", body, format="json")
    assert response.status_code == 400, response.content
    assert "provisioned_concurrent_executions" in response.json()["fields"]
    assert not ProvisionedConcurrencyConfig.objects.exists()


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_the_qualifier_is_required(api, published, method):
    response = getattr(api, method)(CONFIG, {"provisioned_concurrent_executions": 1}, format="json")
    assert response.status_code == 400
    assert "qualifier" in response.json()["fields"]


@pytest.mark.parametrize(("url", "qualifier"), [
    (CONFIG, "9"), (CONFIG, "nope"), ("/api/v1/functions/missing/provisioned-concurrency", "1"),
])
def test_what_does_not_exist_answers_404(api, published, url, qualifier):
    response = api.put(f"{url}?qualifier={qualifier}", {"provisioned_concurrent_executions": 1}, format="json")
    assert response.status_code == 404
    assert api.get(f"{url}?qualifier=1").status_code == 404
    assert not ProvisionedConcurrencyConfig.objects.exists()


@pytest.mark.parametrize(("first", "second"), [
    ("1", "live"), ("live", "1"), ("2", "canary"), ("canary", "2"),
])
def test_a_version_and_an_alias_routing_to_it_cannot_both_have_one(api, published, first, second):
    assert put(api, first, 1).status_code == 202
    response = put(api, second, 1)
    assert response.status_code == 409
    assert response.json()["type"] == "ResourceConflictException"
    assert "cannot have provisioned concurrency both through the alias and as a version" in response.json()["message"]
    assert list(ProvisionedConcurrencyConfig.objects.values_list("qualifier", flat=True)) == [first]


def test_two_aliases_may_share_a_version_and_two_versions_never_conflict(api, published):
    assert [put(api, qualifier, 1).status_code for qualifier in ("live", "canary")] == [202, 202]
    api.delete(f"{CONFIG}?qualifier=live")
    api.delete(f"{CONFIG}?qualifier=canary")
    assert [put(api, qualifier, 1).status_code for qualifier in ("1", "2")] == [202, 202]


def test_another_tenants_function_answers_404(api, published, make_tenant):
    put(api, "live", 1)
    intruder = client_for(make_tenant("intruder"))
    assert intruder.get(f"{CONFIG}?qualifier=live").status_code == 404
    assert intruder.get(CONFIGS).status_code == 404
    assert put(intruder, "live", 7).status_code == 404
    assert intruder.delete(f"{CONFIG}?qualifier=live").status_code == 404
    assert ProvisionedConcurrencyConfig.objects.get().requested == 1
