"""The asynchronous pipeline's hand-written statements: rows as the ORM writes and reads them, the
outcome written only under its lease, and the statements an event costs, counted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from lambent.functions.models import Function
from lambent.invocations import asynchronous, outbox, processing, statements
from lambent.invocations.models import Attempt, AttemptOutcome, Invocation, InvocationStatus, OutboxMessage
from tests.invocations.async_helpers import create

POSTGRESQL = connection.vendor == "postgresql"


@pytest.fixture
def function(api) -> Function:
    create(api, "echo")
    return Function.objects.select_related("tenant").get(name="echo")


def accept(function: Function, event: bytes = b'{"n": 1}') -> Invocation:
    return asynchronous.enqueue(tenant=function.tenant, function=function, qualifier=None, payload=event,
                                publish_after_commit=False)


def fields(instance: object, *, leave_out: tuple[str, ...] = ()) -> dict[str, object]:
    meta = type(instance)._meta  # type: ignore[attr-defined]
    values = {field.attname: getattr(instance, field.attname) for field in meta.concrete_fields}
    return {name: bytes(value) if isinstance(value, memoryview) else value for name, value in values.items()
            if name not in leave_out}


def test_an_accepted_event_is_the_row_the_orm_would_write(function):
    accepted = accept(function, b'{"hello": "rows"}')
    by_orm = Invocation.objects.create(
        tenant=function.tenant, function=function, function_name=function.name, invocation_type="Event",
        payload=b'{"hello": "rows"}', maximum_retry_attempts=2, next_attempt_at=accepted.next_attempt_at,
        expires_at=accepted.expires_at)

    stored = Invocation.objects.get(pk=accepted.pk)
    assert fields(stored, leave_out=("id", "request_id", "created_at")) == fields(
        Invocation.objects.get(pk=by_orm.pk), leave_out=("id", "request_id", "created_at"))
    assert fields(stored) == fields(accepted)
    message = OutboxMessage.objects.get()
    assert (message.task, message.key, message.due_at) == (outbox.RUN_INVOCATION, str(accepted.request_id),
                                                           accepted.next_attempt_at)


def test_an_invocation_reads_back_with_its_tenant_as_the_orm_reads_it(function):
    accepted = accept(function)
    statements.update(Invocation, where={"id": accepted.pk}, values={
        "status": InvocationStatus.RUNNING, "lease_expires_at": timezone.now(), "duration_ms": 1.5,
        "response": b"\x00\xff", "log_tail": "a log"})

    read = statements.invocation(request_id=str(accepted.request_id))
    by_orm = Invocation.objects.select_related("tenant").get(pk=accepted.pk)
    assert read is not None and fields(read) == fields(by_orm)
    with CaptureQueriesContext(connection) as queries:
        assert fields(read.tenant) == fields(by_orm.tenant)
    assert len(queries) == 0
    assert statements.invocation(request_id="00000000-0000-0000-0000-000000000000") is None


def running(function: Function) -> Invocation:
    invocation = accept(function)
    assert statements.update(Invocation, where={"id": invocation.pk, "fence": 0},
                             values={"status": InvocationStatus.RUNNING, "fence": 1}) == 1
    return invocation


def finish(invocation: Invocation, *, fence: int, due_at=None) -> bool:
    now = timezone.now()
    return statements.finish(
        where={"id": invocation.pk, "fence": fence, "status": InvocationStatus.RUNNING},
        values={"status": InvocationStatus.RETRYING if due_at else InvocationStatus.SUCCEEDED, "finished_at": now},
        attempt={"invocation_id": invocation.pk, "number": 1, "outcome": AttemptOutcome.SUCCEEDED,
                 "started_at": now, "finished_at": now, "log_tail": "the log"},
        task=outbox.RUN_INVOCATION, key=str(invocation.request_id), due_at=due_at, now=now)


def test_an_outcome_is_written_only_while_its_lease_holds(function):
    invocation = running(function)

    assert not finish(invocation, fence=0)  # another worker's lease now
    assert Invocation.objects.get(pk=invocation.pk).status == InvocationStatus.RUNNING
    assert not Attempt.objects.exists() and OutboxMessage.objects.count() == 1

    assert finish(invocation, fence=1)
    assert Invocation.objects.get(pk=invocation.pk).status == InvocationStatus.SUCCEEDED
    [attempt] = Attempt.objects.all()
    assert (attempt.invocation_id, attempt.number, attempt.log_tail) == (invocation.pk, 1, "the log")
    assert not OutboxMessage.objects.exists()

    assert not finish(invocation, fence=1)  # tried again after an answer was lost: it stands, once
    assert Attempt.objects.count() == 1


def test_a_retried_outcome_owes_its_message_again_even_when_it_was_missing(function):
    due = timezone.now() + timedelta(seconds=60)
    first, second = running(function), running(function)
    OutboxMessage.objects.filter(key=str(second.request_id)).delete()

    assert finish(first, fence=1, due_at=due) and finish(second, fence=1, due_at=due)

    assert sorted(OutboxMessage.objects.values_list("key", "due_at")) == sorted(
        [(str(first.request_id), due), (str(second.request_id), due)])


@pytest.mark.usefixtures("fake_executor")
def test_an_attempt_is_three_statements_on_postgresql(function):
    processing.process(request_id=str(accept(function).request_id))  # routing and pool are remembered
    invocation = accept(function)
    with CaptureQueriesContext(connection) as queries:
        processing.process(request_id=str(invocation.request_id))

    assert Invocation.objects.get(pk=invocation.pk).status == InvocationStatus.SUCCEEDED
    verbs = [query["sql"].split()[0] for query in queries]
    assert verbs == (["SELECT", "UPDATE", "WITH"] if POSTGRESQL else ["SELECT", "UPDATE", "UPDATE", "INSERT", "DELETE"])


@pytest.mark.django_db(transaction=True)
def test_accepting_an_event_is_one_statement_on_postgresql(function):
    accept(function)  # the event invoke config is remembered
    with CaptureQueriesContext(connection) as queries:
        accept(function)
    # Under autocommit: no BEGIN nor COMMIT on PostgreSQL; SQLite needs its transaction (in-process).
    assert [query["sql"].split()[0] for query in queries] == (["WITH"] if POSTGRESQL
                                                              else ["BEGIN", "INSERT", "INSERT", "COMMIT"])
