"""Send, receive and delete: visibility timeouts, receipt handles, retention, limits."""

import pytest
from django.db import transaction

from lambent.errors import InvalidParameter, RequestTooLarge
from lambent.queues import limits, selectors, services
from lambent.queues.models import Message
from tests.conftest import client_for
from tests.queues.conftest import receive, send


@pytest.fixture
def queue(create_queue):
    return create_queue()


def test_round_trip(api, queue, clock):
    message_id = send(api, "héllo", attributes={"kind": "greeting", "empty": ""})
    (message,) = receive(api)
    assert message["message_id"] == message_id
    assert message["body"] == "héllo"
    assert message["attributes"] == {"kind": "greeting", "empty": ""}
    assert message["receive_count"] == 1
    assert message["receipt_handle"] and message["sent_at"]
    response = api.delete(f"/api/v1/queues/jobs/messages/{message['receipt_handle']}")
    assert response.status_code == 204, response.content
    assert not Message.objects.exists()
    clock.advance(3600)
    assert receive(api) == []


def test_receive_from_an_empty_queue_is_an_empty_list(api, queue):
    assert receive(api) == []


def test_oldest_first_and_max_messages(api, queue):
    sent = [send(api, str(n)) for n in range(12)]
    assert [m["message_id"] for m in receive(api)] == sent[:1]
    assert [m["message_id"] for m in receive(api, max_messages=10)] == sent[1:11]
    assert [m["message_id"] for m in receive(api, max_messages=10)] == sent[11:]


@pytest.mark.parametrize(("field", "value"), [
    ("max_messages", 0), ("max_messages", 11), ("max_messages", "many"),
    ("visibility_timeout", -1), ("visibility_timeout", 43201),
])
def test_invalid_receive_is_400_and_hides_nothing(api, queue, field, value):
    send(api)
    response = api.post("/api/v1/queues/jobs/messages/receive", {field: value}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert Message.objects.get().receive_count == 0
    assert len(receive(api)) == 1


def test_a_received_message_is_hidden_for_the_visibility_timeout(api, create_queue, clock):
    create_queue(visibility_timeout=20)
    message_id = send(api)
    assert len(receive(api)) == 1
    clock.advance(19.9)
    assert receive(api) == []
    counts = api.get("/api/v1/queues/jobs").json()
    assert (counts["approximate_number_of_messages"], counts["approximate_number_of_messages_not_visible"]) == (0, 1)
    clock.advance(0.1)
    (again,) = receive(api)
    assert again["message_id"] == message_id
    assert again["receive_count"] == 2


def test_receive_may_choose_its_own_visibility_timeout(api, queue, clock):
    send(api)
    receive(api, visibility_timeout=300)
    clock.advance(299)
    assert receive(api) == []
    clock.advance(1)
    assert len(receive(api, visibility_timeout=0)) == 1
    assert receive(api)[0]["receive_count"] == 3  # a timeout of 0 leaves it receivable at once


def test_receive_count_increments_and_each_receive_issues_a_new_handle(api, create_queue, clock):
    create_queue(visibility_timeout=1)
    send(api)
    handles = []
    for count in range(1, 4):
        (message,) = receive(api)
        assert message["receive_count"] == count
        handles.append(message["receipt_handle"])
        clock.advance(1)
    assert len(set(handles)) == 3


def test_a_stale_receipt_handle_cannot_delete(api, create_queue, clock):
    create_queue(visibility_timeout=1)
    send(api)
    stale = receive(api)[0]["receipt_handle"]
    clock.advance(1)
    current = receive(api)[0]["receipt_handle"]
    response = api.delete(f"/api/v1/queues/jobs/messages/{stale}")
    assert response.status_code == 404
    assert response.json()["message"] == (
        "The receipt handle is not valid (the message was received again, or deleted).")
    assert Message.objects.count() == 1
    assert api.delete(f"/api/v1/queues/jobs/messages/{current}").status_code == 204
    assert api.delete(f"/api/v1/queues/jobs/messages/{current}").status_code == 404


def test_the_latest_handle_deletes_after_the_timeout_passed(api, create_queue, clock):
    create_queue(visibility_timeout=1)
    send(api)
    handle = receive(api)[0]["receipt_handle"]
    clock.advance(5)
    assert api.delete(f"/api/v1/queues/jobs/messages/{handle}").status_code == 204


def test_a_handle_of_another_queue_cannot_delete(api, create_queue):
    create_queue("one")
    create_queue("two")
    send(api, queue="one")
    handle = receive(api, queue="one")[0]["receipt_handle"]
    assert api.delete(f"/api/v1/queues/two/messages/{handle}").status_code == 404
    assert Message.objects.count() == 1


def test_another_tenants_handle_cannot_delete_even_from_a_queue_of_the_same_name(api, queue, make_tenant):
    send(api)
    handle = receive(api)[0]["receipt_handle"]
    intruder = client_for(make_tenant("intruder"))
    assert intruder.post("/api/v1/queues", {"name": "jobs"}, format="json").status_code == 201
    assert intruder.delete(f"/api/v1/queues/jobs/messages/{handle}").status_code == 404
    assert receive(intruder) == []
    assert Message.objects.count() == 1


def test_expired_messages_are_never_returned_and_are_deleted(api, create_queue, clock):
    create_queue(message_retention_seconds=60)
    send(api, "old")
    clock.advance(30)
    young = send(api, "young")
    clock.advance(30)
    counts = api.get("/api/v1/queues/jobs").json()
    assert counts["approximate_number_of_messages"] == 1
    assert [m["message_id"] for m in receive(api, max_messages=10)] == [young]
    assert list(Message.objects.values_list("body", flat=True)) == ["young"]


def test_expiry_includes_hidden_messages(api, create_queue, clock):
    create_queue(message_retention_seconds=60, visibility_timeout=600)
    send(api)
    receive(api)
    clock.advance(60)
    counts = api.get("/api/v1/queues/jobs").json()
    assert (counts["approximate_number_of_messages"], counts["approximate_number_of_messages_not_visible"]) == (0, 0)


def test_a_shorter_retention_applies_to_messages_already_sent(api, queue, clock):
    send(api)
    clock.advance(120)
    api.patch("/api/v1/queues/jobs", {"message_retention_seconds": 60}, format="json")
    assert receive(api) == []
    assert not Message.objects.exists()


def test_a_message_of_the_maximum_size_is_accepted(api, queue):
    attributes = {"k": "v" * 9}
    body = "x" * (limits.MESSAGE_MAX_BYTES - 10)
    send(api, body, attributes=attributes)
    assert receive(api)[0]["body"] == body


@pytest.mark.parametrize(("body", "attributes"), [
    ("x" * (limits.MESSAGE_MAX_BYTES + 1), {}),
    ("é" * (limits.MESSAGE_MAX_BYTES // 2) + "x", {}),  # 2 bytes a character in UTF-8
    ("x" * (limits.MESSAGE_MAX_BYTES - 10), {"k": "v" * 10}),
])
def test_a_message_over_the_limit_is_413_and_not_stored(api, queue, body, attributes):
    response = api.post("/api/v1/queues/jobs/messages", {"body": body, "attributes": attributes}, format="json")
    assert response.status_code == 413, response.content[:300]
    assert response.json()["type"] == "RequestTooLargeException"
    assert not Message.objects.exists()


@pytest.mark.parametrize(("field", "value"), [
    ("body", ""),
    ("body", None),
    ("attributes", "not a mapping"),
    ("attributes", {"bad name": "x"}),
    ("attributes", {"n": ["not", "text"]}),
    ("attributes", {f"a{n}": "x" for n in range(limits.ATTRIBUTES_MAX + 1)}),
])
def test_an_invalid_message_is_400_and_not_stored(api, queue, field, value):
    response = api.post("/api/v1/queues/jobs/messages", {"body": "ok", field: value}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert not Message.objects.exists()


@pytest.mark.parametrize("message", [{"body": "nul\x00byte"}, {"body": "ok", "attributes": {"n": "xxx\x00"}},
                                     {"body": "ok", "attributes": {"n\x00": "x"}}])
def test_a_nul_character_anywhere_in_the_body_is_400_and_not_stored(api, queue, message):
    response = api.post("/api/v1/queues/jobs/messages", message, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["type"] == "InvalidRequestContentException"
    assert "NUL" in response.json()["message"]
    assert not Message.objects.exists()


def test_body_is_required(api, queue):
    response = api.post("/api/v1/queues/jobs/messages", {}, format="json")
    assert response.status_code == 400 and "body" in response.json()["fields"]


@pytest.mark.parametrize(("body", "attributes", "field"), [
    ("lone \ud800 surrogate", None, "body"),
    ("ok", {"n": "lone \udfff"}, "attributes"),
    ("ok", {"": "x"}, "attributes"),
    ("ok", {1: "x"}, "attributes"),
])
def test_the_service_checks_what_the_api_cannot_send(tenant, queue, body, attributes, field):
    jobs = selectors.queue_get(tenant=tenant.tenant, name="jobs")
    with pytest.raises(InvalidParameter) as refused:
        services.message_send(tenant=tenant.tenant, queue=jobs, body=body, attributes=attributes)
    assert field in refused.value.fields
    assert not Message.objects.exists()


def test_send_joins_the_callers_transaction(tenant, queue):
    jobs = selectors.queue_get(tenant=tenant.tenant, name="jobs")
    with pytest.raises(RuntimeError), transaction.atomic():
        services.message_send(tenant=tenant.tenant, queue=jobs, body="rolled back")
        raise RuntimeError("the caller's work failed")
    assert not Message.objects.exists()
    with transaction.atomic():
        message = services.message_send(tenant=tenant.tenant, queue=jobs, body="kept", attributes={"a": "b"})
    assert Message.objects.get().message_id == message.message_id


def test_too_large_from_the_service(tenant, queue):
    jobs = selectors.queue_get(tenant=tenant.tenant, name="jobs")
    with pytest.raises(RequestTooLarge):
        services.message_send(tenant=tenant.tenant, queue=jobs, body="x" * (limits.MESSAGE_MAX_BYTES + 1))


def test_a_queue_of_another_tenant_is_refused_by_the_services(tenant, queue, make_tenant):
    jobs = selectors.queue_get(tenant=tenant.tenant, name="jobs")
    other = make_tenant("other").tenant
    with pytest.raises(AssertionError):
        services.message_send(tenant=other, queue=jobs, body="x")
    with pytest.raises(AssertionError):
        services.messages_receive(tenant=other, queue=jobs)
    assert not Message.objects.exists()
