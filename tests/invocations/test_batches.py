"""Events accepted together travel together: stored in one statement, published as one message,
run one after the other by one worker process, those waiting held so that a lost worker's are
sent again by the sweeper."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from lambent import broker
from lambent.functions.models import Function
from lambent.invocations import accepting, asynchronous, leases, processing
from lambent.invocations.models import Invocation, InvocationStatus, OutboxMessage
from tests.invocations.async_helpers import create
from tests.processes import RedisServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def private_redis(settings) -> Iterator[RedisServer]:
    server = RedisServer().start()
    settings.REDIS_URL = server.url
    yield server
    server.stop()


def messages(server: RedisServer) -> list[list[str]]:
    """The arguments of each message queued on ``server``, oldest first."""
    client = redis.Redis.from_url(server.url)
    try:
        raw = list(reversed(client.lrange(broker.QUEUE, 0, -1)))
    finally:
        client.close()
    return [json.loads(base64.b64decode(json.loads(message)["body"]))[0] for message in raw]


@pytest.fixture
def function(api) -> Function:
    create(api, "echo")
    return Function.objects.select_related("tenant").get(name="echo")


def accept_together(function: Function, events: list[bytes]) -> list[Invocation | BaseException]:
    async def accept_all() -> list[Invocation | BaseException]:
        return await asyncio.gather(*(accepting.accept_event(tenant=function.tenant, function=function,
                                                             qualifier=None, payload=event) for event in events),
                                    return_exceptions=True)
    return asyncio.run(accept_all())


def test_events_accepted_together_are_stored_and_published_together(function, private_redis):
    accept_together(function, [b"{}"])  # the event invoke config is remembered
    with CaptureQueriesContext(connection):
        accepted = accept_together(function, [b'{"n": %d}' % n for n in range(accepting.BATCH_MAX + 3)])

    assert all(isinstance(invocation, Invocation) for invocation in accepted)
    ids = [str(invocation.request_id) for invocation in accepted]  # type: ignore[union-attr]
    assert messages(private_redis)[1:] == [ids[:accepting.BATCH_MAX], ids[accepting.BATCH_MAX:]]
    assert sorted(OutboxMessage.objects.values_list("key", flat=True)) == sorted([*ids, *messages(private_redis)[0]])
    assert [json.loads(bytes(i.payload))["n"] for i in Invocation.objects.filter(
        request_id__in=ids).order_by("pk")] == list(range(accepting.BATCH_MAX + 3))


def test_a_bad_event_is_refused_alone(function, private_redis):
    good, bad = accept_together(function, [b"{}", b"{not json"])
    assert isinstance(good, Invocation) and not isinstance(bad, Invocation)
    assert getattr(bad, "status_code", None) == 400
    assert messages(private_redis) == [[str(good.request_id)]]


def test_a_batch_the_broker_did_not_take_is_withdrawn_whole(function, settings):
    from tests.processes import free_port

    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nobody answers
    refused = accept_together(function, [b"{}", b"{}", b"{}"])
    assert [getattr(answer, "status_code", None) for answer in refused] == [503, 503, 503]
    assert not Invocation.objects.exists() and not OutboxMessage.objects.exists()


def test_a_batch_whose_publishing_fails_unexpectedly_is_answered_never_left_waiting(function, monkeypatch):
    from lambent.invocations import outbox

    async def broken(**_: object) -> None:
        raise RuntimeError("a bug")
    monkeypatch.setattr(outbox, "publish_async", broken)
    answers = accept_together(function, [b"{}", b"{}"])
    assert [type(answer) for answer in answers] == [RuntimeError, RuntimeError]


def test_a_batch_runs_each_of_its_events_and_holds_those_waiting(function, fake_executor, settings):
    invocations = [asynchronous.enqueue(tenant=function.tenant, function=function, qualifier=None,
                                        payload=b'{"n": 1}', publish_after_commit=False) for _ in range(3)]
    ids = [str(invocation.request_id) for invocation in invocations]
    held: list[list[object]] = []
    process = processing.process

    def noting(*, request_id: str) -> None:
        held.append(list(Invocation.objects.filter(request_id__in=ids, status=InvocationStatus.QUEUED)
                         .exclude(lease_expires_at=None).order_by("pk").values_list("request_id", flat=True)))
        process(request_id=request_id)
    processing.process = noting  # type: ignore[assignment]
    try:
        processing.process_batch(request_ids=ids)
    finally:
        processing.process = process  # type: ignore[assignment]

    # Each turn starts with the events not yet leased held: its own (until its lease) and the rest.
    assert [[str(request_id) for request_id in turn] for turn in held] == [ids[1:], ids[1:], ids[2:]]
    assert set(Invocation.objects.values_list("status", flat=True)) == {InvocationStatus.SUCCEEDED}
    assert not Invocation.objects.exclude(lease_expires_at=None).exists() and not OutboxMessage.objects.exists()


def test_the_waiting_events_of_a_lost_worker_are_sent_again_once_their_hold_runs_out(function, private_redis):
    invocations = [asynchronous.enqueue(tenant=function.tenant, function=function, qualifier=None,
                                        payload=b"{}", publish_after_commit=False) for _ in range(2)]
    ids = [str(invocation.request_id) for invocation in invocations]
    with leases.keeper.waiting(ids):
        assert processing.sweep()["revived"] == 0  # held by a live batch
    assert messages(private_redis) == []

    Invocation.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))  # its worker died
    assert processing.sweep()["revived"] == 2
    assert sorted(key for [key] in messages(private_redis)) == sorted(ids)
    assert processing.sweep()["revived"] == 0  # sent once
