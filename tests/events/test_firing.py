"""The tick with a fake clock: each instant fires once however many beats send ticks, missed
instants inside and outside their window, at() once, disabled never, a gone target to the DLQ,
and the invocation each firing makes (its event and its retry budget)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections
from prometheus_client import REGISTRY

from lambent.events import firing, selectors, services
from lambent.events.models import Firing, FiringStatus, Schedule
from lambent.events.services import ScheduleSpec
from lambent.invocations.models import Invocation
from lambent.queues import selectors as queue_selectors
from lambent.queues import services as queue_services
from tests.invocations.async_helpers import create, queue_arn

pytestmark = pytest.mark.django_db


def make(tenant, name: str = "every-minute", expression: str = "rate(1 minute)", **fields) -> Schedule:
    spec = ScheduleSpec(**{"expression": expression, "target_arn": "echo", "window_mode": "OFF", **fields})
    return services.schedule_create(tenant=tenant.tenant, name=name, spec=spec)


def firings(schedule: Schedule) -> list[Firing]:
    return list(Firing.objects.filter(schedule_id=schedule.pk).order_by("scheduled_at"))


@pytest.fixture
def echo(api):
    return create(api, "echo")


def test_rate_fires_once_a_minute_over_an_hour_with_two_beats_ticking(tenant, echo, clock):
    schedule = make(tenant, input='{"job": "report"}')
    start = clock.now()
    for _ in range(360):  # an hour of fake time, in steps of 10 s; two beats tick each step
        firing.tick()
        firing.tick()
        clock.advance(10)
    fired = firings(schedule)
    assert [f.scheduled_at for f in fired] == [start + timedelta(minutes=m) for m in range(60)]
    assert {f.status for f in fired} == {FiringStatus.FIRED}
    invocations = Invocation.objects.filter(request_id__in=[f.request_id for f in fired])
    assert invocations.count() == 60
    assert {bytes(i.payload) for i in invocations} == {b'{"job": "report"}'}
    assert {(i.function_name, i.invocation_type, i.status) for i in invocations} == {("echo", "Event", "queued")}


@pytest.mark.django_db(transaction=True)
def test_two_ticks_at_once_claim_each_instant_once(tenant, echo, clock):
    schedules = [make(tenant, name=f"s{n}") for n in range(5)]
    for step in range(6):
        now = clock.now() + timedelta(minutes=step)
        barrier = threading.Barrier(2)
        outcomes: list[dict[str, int]] = []

        def beat(now: datetime = now, barrier: threading.Barrier = barrier,
                 outcomes: list[dict[str, int]] = outcomes) -> None:
            barrier.wait()
            try:
                outcomes.append(firing.tick(now=now))
            finally:
                connections.close_all()  # this thread's own connection
        threads = [threading.Thread(target=beat) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(outcome["fired"] for outcome in outcomes) == len(schedules)
    for schedule in schedules:
        assert len(firings(schedule)) == 6
    assert Invocation.objects.count() == 30


def test_a_late_instant_inside_the_grace_fires_and_one_outside_is_missed(tenant, echo, clock, settings):
    settings.SCHEDULE_GRACE_SECONDS = 120
    schedule = make(tenant, expression="rate(1 hour)")
    first = clock.now()
    firing.tick()
    clock.advance(3600 + 100)  # the second instant, 100 s late: inside the grace
    assert firing.tick() == {"fired": 1, "missed": 0, "failed": 0}
    clock.advance(3600 + 200)  # the third instant is now 300 s late
    assert firing.tick() == {"fired": 0, "missed": 1, "failed": 0}
    assert [(f.scheduled_at - first, f.status) for f in firings(schedule)] == [
        (timedelta(0), "fired"), (timedelta(hours=1), "fired"), (timedelta(hours=2), "missed")]
    assert firings(schedule)[-1].request_id is None


def test_a_flexible_window_is_how_late_an_instant_may_still_fire(tenant, echo, clock):
    schedule = make(tenant, expression="rate(1 hour)", window_mode="FLEXIBLE", window_minutes=15)
    firing.tick()
    clock.advance(3600 + 14 * 60)
    assert firing.tick()["fired"] == 1
    clock.advance(3600 - 14 * 60 + 16 * 60)
    assert firing.tick()["missed"] == 1
    assert [f.status for f in firings(schedule)] == ["fired", "fired", "missed"]


def counted(tenant, status: str) -> float:
    labels = {"tenant": tenant.tenant.account_id, "group": "default", "schedule": "every-minute", "status": status}
    return REGISTRY.get_sample_value("lambent_schedule_firings_total", labels) or 0.0


@pytest.mark.django_db(transaction=True)  # the counters count what committed
def test_after_a_downtime_the_old_instants_are_missed_and_the_recent_ones_fire(tenant, echo, clock, settings):
    settings.SCHEDULE_GRACE_SECONDS = 120
    before = {status: counted(tenant, status) for status in ("fired", "missed")}
    schedule = make(tenant)
    firing.tick()
    clock.advance(600)  # nothing ran for ten minutes
    assert firing.tick() == {"fired": 3, "missed": 7, "failed": 0}
    assert counted(tenant, "fired") - before["fired"] == 4 and counted(tenant, "missed") - before["missed"] == 7
    assert firing.tick() == {"fired": 0, "missed": 0, "failed": 0}
    assert len(firings(schedule)) == 11
    assert Schedule.objects.get(pk=schedule.pk).next_fire_at == clock.now() + timedelta(minutes=1)


def test_at_fires_once_and_delete_after_completion_removes_the_schedule(tenant, echo, clock):
    kept = make(tenant, name="kept", expression="at(2030-01-07T10:01:00)", timezone="Europe/Berlin")
    gone = make(tenant, name="gone", expression="at(2030-01-07T09:02:00)", action_after_completion="DELETE")
    past = make(tenant, name="past", expression="at(2030-01-07T09:00:00)")  # half a minute ago: never
    clock.set(datetime(2030, 1, 7, 9, 1, 59, tzinfo=UTC))
    assert firing.tick()["fired"] == 1  # kept's is 09:01 UTC, 10:01 in Berlin
    clock.advance(1)
    assert firing.tick()["fired"] == 1
    for _ in range(5):
        clock.advance(60)
        assert firing.tick()["fired"] == 0
    assert [f.scheduled_at for f in firings(kept)] == [datetime(2030, 1, 7, 9, 1, tzinfo=UTC)]
    assert firings(past) == []
    assert Schedule.objects.get(pk=kept.pk).next_fire_at is None
    assert not Schedule.objects.filter(pk=gone.pk).exists()
    assert Invocation.objects.count() == 2


def test_disabled_never_fires_and_enabling_does_not_replay_the_past(tenant, echo, clock):
    schedule = make(tenant, state="DISABLED")
    for _ in range(10):
        clock.advance(60)
        firing.tick()
    assert firings(schedule) == []
    current = selectors.schedule_get(tenant=tenant.tenant, name=schedule.name)
    spec = services.spec_of(current)
    services.schedule_update(tenant=tenant.tenant, name=schedule.name,
                             spec=ScheduleSpec(**{**spec.__dict__, "state": "ENABLED"}))
    firing.tick()
    assert [f.scheduled_at for f in firings(schedule)] == [clock.now()]


def test_cron_in_a_time_zone_fires_at_the_same_wall_clock_time_across_the_dst_change(tenant, echo, clock):
    clock.set(datetime(2026, 3, 27, 12, tzinfo=UTC))
    schedule = make(tenant, expression="cron(30 9 * * ? *)", timezone="Europe/Berlin")
    for _ in range(3 * 24 * 6):  # three days in steps of ten minutes
        clock.advance(600)
        firing.tick()
    assert [f.scheduled_at for f in firings(schedule)] == [
        datetime(2026, 3, 28, 8, 30, tzinfo=UTC), datetime(2026, 3, 29, 7, 30, tzinfo=UTC),
        datetime(2026, 3, 30, 7, 30, tzinfo=UTC)]


def test_the_invocation_gets_the_payload_and_the_stricter_retry_budget(tenant, echo, api, clock):
    response = api.post("/api/v1/functions/echo/versions", {}, format="json")
    assert response.status_code == 201, response.content
    schedule = make(tenant, target_arn=f"{echo['arn']}:1", input='{"n": 1}', maximum_retry_attempts=1,
                    maximum_event_age_seconds=120)
    firing.tick()
    [fired] = firings(schedule)
    invocation = Invocation.objects.get(request_id=fired.request_id)
    assert (invocation.function_name, invocation.qualifier, bytes(invocation.payload)) == ("echo", "1", b'{"n": 1}')
    assert invocation.maximum_retry_attempts == 1  # the schedule's 1, below the function's 2
    assert invocation.expires_at is not None
    assert invocation.expires_at - invocation.created_at == timedelta(seconds=120)  # below the function's 6 h
    generous = make(tenant, name="generous")
    firing.tick()
    [other] = firings(generous)
    assert Invocation.objects.get(request_id=other.request_id).maximum_retry_attempts == 2  # the function's


def test_a_firing_whose_function_is_gone_fails_into_the_dead_letter_queue(tenant, api, clock):
    dlq = queue_arn(api, "schedule-dlq")
    schedule = make(tenant, target_arn="missing", input='{"lost": true}', dead_letter_arn=dlq)
    assert firing.tick() == {"fired": 0, "missed": 0, "failed": 1}
    [failed] = firings(schedule)
    assert failed.status == "failed" and failed.request_id is None
    assert "missing" in failed.error
    queue = queue_selectors.queue_get(tenant=tenant.tenant, name="schedule-dlq")
    [message] = queue_services.messages_receive(tenant=tenant.tenant, queue=queue)
    assert json.loads(message.body) == {"lost": True}
    assert message.attributes["SCHEDULE_ARN"] == schedule.arn
    assert message.attributes["TARGET_ARN"] == "missing"
    assert message.attributes["ERROR_CODE"] == "ResourceNotFoundException"


def test_a_schedule_that_can_no_longer_be_read_stops_and_the_others_go_on(tenant, echo, clock):
    broken = make(tenant, name="broken")
    Schedule.objects.filter(pk=broken.pk).update(timezone="Gone/Zone")  # as if zoneinfo lost it
    healthy = make(tenant, name="healthy")
    assert firing.tick()["fired"] == 2  # each fires its due instant; the broken one then has no next
    clock.advance(60)
    assert firing.tick()["fired"] == 1
    assert Schedule.objects.get(pk=broken.pk).next_fire_at is None
    assert (len(firings(broken)), len(firings(healthy))) == (1, 2)
