"""Bad input to asynchronous invocations and their configuration: a clear 4xx, nothing queued,
nothing stored."""

from __future__ import annotations

import pytest

from lambent.invocations.models import DeadLetterConfig, EventInvokeConfig, Invocation, OutboxMessage
from tests.conftest import client_for
from tests.invocations.async_helpers import create, queue_arn


def nothing_queued() -> bool:
    return not Invocation.objects.exists() and not OutboxMessage.objects.exists()


@pytest.fixture
def other(make_tenant):
    return client_for(make_tenant("other"))


def test_an_unknown_function_is_404(api, db):
    response = api.post("/api/v1/functions/nope/invoke?type=event", {}, format="json")
    assert response.status_code == 404 and "nope" in response.json()["message"]
    assert nothing_queued()


@pytest.mark.parametrize("how", ["header", "query"])
def test_a_bad_invocation_type_is_400(api, how):
    create(api, "echo")
    if how == "header":
        response = api.post("/api/v1/functions/echo/invoke", {}, format="json", HTTP_X_LAMBENT_INVOCATION_TYPE="Later")
    else:
        response = api.post("/api/v1/functions/echo/invoke?type=later", {}, format="json")
    assert response.status_code == 400
    assert "RequestResponse, Event or DryRun" in response.json()["message"]
    assert nothing_queued()


def test_an_event_over_one_megabyte_is_413(api):
    create(api, "echo")
    event = b'{"blob": "' + b"x" * (1024 * 1024) + b'"}'
    response = api.post("/api/v1/functions/echo/invoke", event, content_type="application/json",
                        HTTP_X_LAMBENT_INVOCATION_TYPE="Event")
    assert response.status_code == 413
    assert nothing_queued()


def test_an_event_that_is_not_json_is_400(api):
    create(api, "echo")
    response = api.post("/api/v1/functions/echo/invoke?type=event", b"{not json", content_type="application/json")
    assert response.status_code == 400
    assert nothing_queued()


def test_another_tenants_function_is_404(api, other):
    create(api, "echo")
    response = other.post("/api/v1/functions/echo/invoke?type=event", {}, format="json")
    assert response.status_code == 404
    assert nothing_queued()


def test_dry_run_validates_and_runs_nothing(api):
    create(api, "echo")
    assert api.post("/api/v1/functions/echo/invoke?type=DryRun", {}, format="json").status_code == 204
    assert api.post("/api/v1/functions/echo/invoke?type=dryrun", b"[", content_type="application/json"
                    ).status_code == 400
    assert nothing_queued()


def test_a_destination_in_another_tenant_is_400(api, other):
    create(api, "echo")
    their_function = create(other, "theirs")["arn"]
    their_queue = queue_arn(other, "theirs")
    for destination in (their_function, their_queue):
        response = api.put("/api/v1/functions/echo/event-invoke-config",
                           {"destination_config": {"on_failure": {"destination": destination}}}, format="json")
        assert response.status_code == 400, response.content
        assert "on_failure" in response.json()["fields"]
        dead_letter = api.put("/api/v1/functions/echo/dead-letter-config", {"target": destination}, format="json")
        assert dead_letter.status_code == 400, dead_letter.content
    assert not EventInvokeConfig.objects.exists() and not DeadLetterConfig.objects.exists()


@pytest.mark.parametrize(("field", "value"), [("maximum_retry_attempts", 3), ("maximum_retry_attempts", -1),
                                              ("maximum_event_age_seconds", 59),
                                              ("maximum_event_age_seconds", 21601)])
def test_event_invoke_config_bounds(api, field, value):
    create(api, "echo")
    response = api.put("/api/v1/functions/echo/event-invoke-config", {field: value}, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not EventInvokeConfig.objects.exists()


def test_event_invoke_config_of_an_unknown_qualifier_is_404(api):
    create(api, "echo")
    response = api.put("/api/v1/functions/echo/event-invoke-config?qualifier=live", {}, format="json")
    assert response.status_code == 404
    assert not EventInvokeConfig.objects.exists()


def test_event_invoke_config_put_patch_get_list_delete(api):
    create(api, "echo")
    destination = queue_arn(api, "records")
    put = api.put("/api/v1/functions/echo/event-invoke-config",
                  {"maximum_retry_attempts": 1, "destination_config": {"on_success": {"destination": destination}}},
                  format="json")
    assert put.status_code == 200, put.content
    assert put.json()["maximum_retry_attempts"] == 1 and put.json()["maximum_event_age_seconds"] == 21600
    assert put.json()["qualifier"] == "$LATEST" and put.json()["function_arn"].endswith(":echo:$LATEST")
    patched = api.patch("/api/v1/functions/echo/event-invoke-config", {"maximum_event_age_seconds": 120},
                        format="json").json()
    assert patched["maximum_retry_attempts"] == 1 and patched["maximum_event_age_seconds"] == 120
    assert patched["destination_config"]["on_success"]["destination"] == destination
    assert api.get("/api/v1/functions/echo/event-invoke-config").json() == patched
    assert [c["qualifier"] for c in api.get("/api/v1/functions/echo/event-invoke-configs").json()["results"]] == [
        "$LATEST"]
    replaced = api.put("/api/v1/functions/echo/event-invoke-config", {}, format="json").json()
    assert replaced["maximum_retry_attempts"] == 2 and replaced["destination_config"]["on_success"]["destination"] == ""
    assert api.delete("/api/v1/functions/echo/event-invoke-config").status_code == 204
    assert api.get("/api/v1/functions/echo/event-invoke-config").status_code == 404


def test_cancel_and_redrive_of_unknown_synchronous_or_foreign_invocations(api, other, fake_executor):
    create(api, "echo")
    synchronous = api.post("/api/v1/functions/echo/invoke", {}, format="json")
    assert synchronous.status_code == 200, synchronous.content
    request_id = synchronous["X-Lambent-Request-Id"]
    for action in ("cancel", "redrive"):
        response = api.post(f"/api/v1/invocations/{request_id}/{action}", {}, format="json")
        assert response.status_code == 409 and "synchronous" in response.json()["message"]
        assert other.post(f"/api/v1/invocations/{request_id}/{action}", {}, format="json").status_code == 404
        assert api.post(f"/api/v1/invocations/not-an-id/{action}", {}, format="json").status_code == 404
    assert Invocation.objects.get().status == "succeeded" and not OutboxMessage.objects.exists()


def test_invocation_list_filters(api, fake_executor):
    create(api, "echo")
    create(api, "other")
    for name in ("echo", "echo", "other"):
        assert api.post(f"/api/v1/functions/{name}/invoke", {}, format="json").status_code == 200
    assert len(api.get("/api/v1/invocations").json()["results"]) == 3
    assert len(api.get("/api/v1/invocations?function=echo").json()["results"]) == 2
    assert len(api.get("/api/v1/invocations?status=succeeded&function=other").json()["results"]) == 1
    assert api.get("/api/v1/invocations?status=failed").json()["results"] == []
    assert api.get("/api/v1/invocations?since=2999-01-01T00:00:00Z").json()["results"] == []
    assert len(api.get("/api/v1/invocations?until=2999-01-01T00:00:00Z").json()["results"]) == 3
    assert api.get("/api/v1/invocations?status=sleeping").status_code == 400
    assert api.get("/api/v1/invocations?since=yesterday").status_code == 400
    assert api.get("/api/v1/invocations?function=nope").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_database_that_refuses_the_outbox_message_answers_503_with_nothing_stored(api, monkeypatch):
    """The invocation and its message land together or not at all: here the message's row is
    refused by the database itself (its key taken), after the invocation's was written."""
    import uuid

    from django.utils import timezone

    from lambent.invocations import asynchronous, outbox

    create(api, "echo")
    taken = uuid.uuid4()
    OutboxMessage.objects.create(task=outbox.RUN_INVOCATION, key=str(taken), due_at=timezone.now())
    monkeypatch.setattr(asynchronous.uuid, "uuid4", lambda: taken)
    response = api.post("/api/v1/functions/echo/invoke?type=event", {}, format="json")

    assert response.status_code == 503
    assert "could not be stored" in response.json()["message"]
    assert not Invocation.objects.exists()
    assert OutboxMessage.objects.get().key == str(taken)


@pytest.mark.django_db(transaction=True)
def test_a_database_that_fails_the_commit_answers_503_with_nothing_stored(api, monkeypatch):
    from django.db import OperationalError, connection

    if connection.vendor == "postgresql":
        pytest.skip("one statement under autocommit: its commit is the statement's, as the test above fails it")
    create(api, "echo")

    def refuse() -> None:
        raise OperationalError("disk I/O error")
    monkeypatch.setattr(connection, "_commit", refuse)
    response = api.post("/api/v1/functions/echo/invoke?type=event", {}, format="json")
    monkeypatch.undo()

    assert response.status_code == 503
    assert "could not be stored" in response.json()["message"]
    assert not Invocation.objects.exists() and not OutboxMessage.objects.exists()
