"""Create, read, change, delete and list queues, and every limit of their settings."""

import pytest

from lambent.queues import limits
from lambent.queues.models import Message, Queue
from tests.queues.conftest import receive, send


def test_create_with_defaults(api, tenant):
    response = api.post("/api/v1/queues", {"name": "jobs"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "jobs"
    assert body["arn"] == f"arn:aws:sqs:us-east-1:{tenant.tenant.account_id}:jobs"
    assert (body["visibility_timeout"], body["message_retention_seconds"]) == (30, 345600)
    assert (body["approximate_number_of_messages"], body["approximate_number_of_messages_not_visible"]) == (0, 0)
    assert body["created_at"]


def test_create_with_settings(create_queue):
    body = create_queue("fast-lane_2", visibility_timeout=0, message_retention_seconds=60)
    assert (body["visibility_timeout"], body["message_retention_seconds"]) == (0, 60)


def test_arn_follows_the_configured_partition_and_region(create_queue, settings, tenant):
    settings.ARN_PARTITION, settings.REGION = "aws-cn", "cn-north-1"
    assert create_queue()["arn"] == f"arn:aws-cn:sqs:cn-north-1:{tenant.tenant.account_id}:jobs"


def test_get_shows_message_counts(api, create_queue):
    create_queue()
    for body in ["a", "b", "c"]:
        send(api, body)
    receive(api)
    body = api.get("/api/v1/queues/jobs").json()
    assert (body["approximate_number_of_messages"], body["approximate_number_of_messages_not_visible"]) == (2, 1)


def test_get_unknown_queue_is_404(api):
    response = api.get("/api/v1/queues/nope")
    assert response.status_code == 404
    assert response.json() == {"type": "ResourceNotFoundException", "message": "Queue not found: nope"}


def test_duplicate_name_is_409(api, create_queue):
    create_queue()
    response = api.post("/api/v1/queues", {"name": "jobs"}, format="json")
    assert response.status_code == 409
    assert response.json()["type"] == "ResourceConflictException"
    assert Queue.objects.count() == 1


def test_same_name_in_two_tenants(create_queue, make_tenant):
    from tests.conftest import client_for

    create_queue()
    other = client_for(make_tenant("other"))
    assert other.post("/api/v1/queues", {"name": "jobs"}, format="json").status_code == 201


def test_update_changes_only_named_settings(api, create_queue):
    before = create_queue(visibility_timeout=10)
    response = api.patch("/api/v1/queues/jobs", {"message_retention_seconds": 3600}, format="json")
    assert response.status_code == 200, response.content
    after = response.json()
    assert (after["visibility_timeout"], after["message_retention_seconds"]) == (10, 3600)
    assert after["arn"] == before["arn"] and after["created_at"] == before["created_at"]


@pytest.mark.parametrize(("field", "value"), [
    ("visibility_timeout", -1), ("visibility_timeout", 43201), ("visibility_timeout", "long"),
    ("message_retention_seconds", 59), ("message_retention_seconds", 1209601),
])
def test_invalid_update_is_400_and_changes_nothing(api, create_queue, field, value):
    before = create_queue()
    response = api.patch("/api/v1/queues/jobs", {"visibility_timeout": 5, field: value}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert api.get("/api/v1/queues/jobs").json() == before


def test_delete_removes_the_queue_and_its_messages(api, create_queue):
    create_queue()
    send(api)
    assert api.delete("/api/v1/queues/jobs").status_code == 204
    assert api.get("/api/v1/queues/jobs").status_code == 404
    assert not Queue.objects.exists() and not Message.objects.exists()
    assert api.delete("/api/v1/queues/jobs").status_code == 404


def test_list_is_paginated_by_name(api, create_queue):
    for name in ["charlie", "alpha", "bravo"]:
        create_queue(name)
    send(api, queue="bravo")
    first = api.get("/api/v1/queues?page_size=2").json()
    assert [q["name"] for q in first["results"]] == ["alpha", "bravo"]
    assert [q["approximate_number_of_messages"] for q in first["results"]] == [0, 1]
    second = api.get(first["next"]).json()
    assert [q["name"] for q in second["results"]] == ["charlie"]
    assert second["next"] is None


def assert_refused(response, field):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["type"] == "InvalidParameterValueException"
    assert field in body["fields"], body
    assert not Queue.objects.exists()


@pytest.mark.parametrize(("field", "value"), [
    ("name", ""),
    ("name", "x" * (limits.NAME_MAX + 1)),
    ("name", "has space"),
    ("name", "dots.not.allowed"),
    ("name", "trailing-newline\n"),
    ("visibility_timeout", -1),
    ("visibility_timeout", 43201),
    ("visibility_timeout", "soon"),
    ("message_retention_seconds", 59),
    ("message_retention_seconds", 1209601),
])
def test_invalid_create_is_400_and_stores_nothing(api, field, value):
    assert_refused(api.post("/api/v1/queues", {"name": "jobs", field: value}, format="json"), field)


def test_name_is_required(api):
    assert_refused(api.post("/api/v1/queues", {}, format="json"), "name")


@pytest.mark.parametrize("settings_", [
    {"name": "x" * limits.NAME_MAX},
    {"name": "A-z_0"},
    {"visibility_timeout": 0}, {"visibility_timeout": 43200},
    {"message_retention_seconds": 60}, {"message_retention_seconds": 1209600},
])
def test_limits_are_inclusive(api, settings_):
    response = api.post("/api/v1/queues", {"name": "jobs", **settings_}, format="json")
    assert response.status_code == 201, response.content
