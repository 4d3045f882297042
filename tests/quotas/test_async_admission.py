"""The asynchronous path's admission, one ``process`` call at a time in this process (the
in-memory executor): a throttle is no attempt and waits; a reservation of 0 fails at once."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from lambent.functions.models import Function
from lambent.invocations import asynchronous, hot_cache, processing
from lambent.invocations.models import Invocation, InvocationStatus, OutboxMessage
from lambent.queues.models import Message
from lambent.quotas import admission, limits
from tests.invocations.async_helpers import configure, create, queue_arn
from tests.processes import free_port
from tests.quotas.conftest import reserve

pytestmark = pytest.mark.usefixtures("fake_executor")


def accepted(tenant, name: str = "echo", event: bytes = b'{"n": 1}') -> Invocation:
    """An accepted event; its message is owed in the outbox, never published (no commit here)."""
    function = Function.objects.get(tenant=tenant.tenant, name=name)
    return asynchronous.enqueue(tenant=tenant.tenant, function=function, qualifier=None, payload=event)


def test_a_throttled_event_waits_without_an_attempt_then_runs(api, tenant, hold, settings):
    create(api, "echo")
    reserve(api, "echo", 1)
    slot = hold("echo")
    invocation = accepted(tenant)

    processing.process(request_id=str(invocation.request_id))

    invocation.refresh_from_db()
    assert invocation.status == InvocationStatus.RETRYING
    assert invocation.error_type == limits.RESERVED_LIMIT_EXCEEDED
    assert (invocation.attempt_count, invocation.function_error_count, invocation.attempts.count()) == (0, 0, 0)
    wait = (invocation.next_attempt_at - timezone.now()).total_seconds()
    assert 0 < wait <= settings.ASYNC_PLATFORM_BACKOFF_SECONDS
    assert OutboxMessage.objects.get(key=str(invocation.request_id)).due_at == invocation.next_attempt_at

    from lambent.quotas import admission
    admission.release(slot)
    Invocation.objects.filter(pk=invocation.pk).update(next_attempt_at=timezone.now())
    processing.process(request_id=str(invocation.request_id))

    invocation.refresh_from_db()
    assert invocation.status == InvocationStatus.SUCCEEDED
    assert [attempt.number for attempt in invocation.attempts.all()] == [1]
    assert api.get("/api/v1/account").json()["concurrent_executions_in_use"] == 0


def test_a_slot_left_by_a_worker_killed_before_its_lease_is_the_next_attempt_s(api, tenant, settings):
    create(api, "echo")
    reserve(api, "echo", 1)
    invocation = accepted(tenant)
    pool = hot_cache.pool(function=Function.objects.get(name="echo"))
    token = admission.attempt_token(request_id=str(invocation.request_id), fence=invocation.fence + 1)
    admission.acquire(pool=pool, lease_seconds=60, token=token)  # taken, then the worker was killed

    processing.process(request_id=str(invocation.request_id))

    invocation.refresh_from_db()
    assert invocation.status == InvocationStatus.SUCCEEDED  # admitted to the only slot: it was its own
    assert admission.in_use(keys=[pool.key]) == [0]  # and given back with the attempt's end


def test_the_slot_is_given_back_before_the_outcome_is_written(api, tenant, monkeypatch):
    create(api, "echo")
    invocation = accepted(tenant)
    pool = hot_cache.pool(function=Function.objects.get(name="echo"))
    finish, held_meanwhile = processing._finish, []

    def noting(lease, result):  # a worker killed now would hold no slot
        held_meanwhile.extend(admission.in_use(keys=[pool.key]))
        finish(lease, result)

    monkeypatch.setattr(processing, "_finish", noting)
    processing.process(request_id=str(invocation.request_id))
    assert held_meanwhile == [0]
    assert Invocation.objects.get(pk=invocation.pk).status == InvocationStatus.SUCCEEDED


def test_a_worker_that_lost_the_lease_leaves_the_winner_s_slot_held(api, tenant, monkeypatch):
    create(api, "echo")
    invocation = accepted(tenant)
    pool = hot_cache.pool(function=Function.objects.get(name="echo"))
    lease = processing._lease

    def won_by_another(invocation: Invocation, **kwargs):  # it leased the same attempt, just before
        assert lease(invocation, **kwargs) is not None
        return None

    monkeypatch.setattr(processing, "_lease", won_by_another)
    processing.process(request_id=str(invocation.request_id))

    invocation.refresh_from_db()
    assert invocation.status == InvocationStatus.RUNNING and not invocation.attempts.exists()
    assert admission.in_use(keys=[pool.key]) == [1]  # the winner's, until its attempt ends
    admission.release(admission.Slot.parse(invocation.admission_slot))


def test_the_wait_grows_with_the_time_already_waited_and_stops_at_the_expiry(api, tenant, hold, settings):
    create(api, "echo")
    reserve(api, "echo", 1)
    hold("echo")
    invocation = accepted(tenant)
    Invocation.objects.filter(pk=invocation.pk).update(created_at=timezone.now() - timedelta(seconds=20))

    processing.process(request_id=str(invocation.request_id))

    invocation.refresh_from_db()
    assert 19 < (invocation.next_attempt_at - timezone.now()).total_seconds() < 21
    soon = timezone.now() + timedelta(seconds=5)
    Invocation.objects.filter(pk=invocation.pk).update(next_attempt_at=timezone.now(), expires_at=soon)
    processing.process(request_id=str(invocation.request_id))
    invocation.refresh_from_db()
    assert invocation.next_attempt_at == soon


def test_counters_out_of_reach_postpone_as_a_platform_error(api, tenant, settings):
    create(api, "echo")
    invocation = accepted(tenant)
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"

    processing.process(request_id=str(invocation.request_id))

    invocation.refresh_from_db()
    assert invocation.status == InvocationStatus.RETRYING and invocation.error_type == "Lambent.PlatformError"
    assert invocation.attempt_count == 0 and not invocation.attempts.exists()


def test_a_reservation_of_zero_fails_at_once_to_the_destination_and_dead_letters(api, tenant):
    create(api, "off")
    failures = queue_arn(api, "failures")
    dead_letters = queue_arn(api, "dead-letters")
    configure(api, "off", destination_config={"on_failure": {"destination": failures}})
    api.put("/api/v1/functions/off/dead-letter-config", {"target": dead_letters}, format="json")
    reserve(api, "off", 0)
    invocation = accepted(tenant, "off", b'{"lost": true}')

    processing.process(request_id=str(invocation.request_id))

    invocation.refresh_from_db()
    assert invocation.status == InvocationStatus.FAILED
    assert invocation.error_type == limits.RESERVED_LIMIT_EXCEEDED
    assert invocation.attempt_count == 0 and not invocation.attempts.exists()
    [record] = [json.loads(m.body) for m in Message.objects.filter(queue__name="failures")]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 0 and "responseContext" not in record
    [dead] = Message.objects.filter(queue__name="dead-letters")
    assert json.loads(dead.body) == {"lost": True}
    assert dead.attributes["ErrorMessage"] == invocation.error_message
    assert not OutboxMessage.objects.filter(key=str(invocation.request_id)).exists()
