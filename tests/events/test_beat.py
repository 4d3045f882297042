"""Schedules end to end: real ``lambent beat`` processes (two of them), a real worker, the api and
sandboxes. boto3's ``scheduler`` client creates, lists and updates schedules that then fire for
real, once each, through the async path into the function, and deletes them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lambent.events.models import Firing, Schedule
from lambent.invocations.models import Invocation
from tests import processes
from tests.events.conftest import scheduler_client
from tests.invocations.async_helpers import create

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]

TICK = "0.5"
ROLE = "arn:aws:iam::123456789012:role/scheduler"


@pytest.fixture(scope="module")
def platform(executor_process: Any, django_db_setup: Any, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    """A worker, two beats ticking every half second, and the api."""
    with django_db_blocker.unblock():
        env = processes.platform_env(LAMBENT_SCHEDULE_TICK_SECONDS=TICK)
    started = [processes.start_worker(env, concurrency=2)]  # two ticks may run at once
    try:
        for _ in range(2):
            started.append(processes.start_beat(env))
        api, endpoint = processes.start_api(env)
        started.append(api)
        yield {"endpoint": endpoint, "beats": started[1:3]}
    finally:
        for process in reversed(started):
            process.stop()


def test_schedules_made_with_boto3_fire_once_each_with_two_beats_running(platform, api, tenant):
    function = create(api, "echo")
    scheduler = scheduler_client(platform["endpoint"], tenant)
    now = datetime.now(UTC).replace(microsecond=0)
    # A rate whose next instant is a few seconds away: it started a minute ago, less those seconds.
    start = now - timedelta(seconds=54)
    scheduler.create_schedule(Name="every-minute", ScheduleExpression="rate(1 minute)", StartDate=start,
                              FlexibleTimeWindow={"Mode": "OFF"},
                              Target={"Arn": function["arn"], "RoleArn": ROLE, "Input": '{"from": "first"}'})
    scheduler.update_schedule(Name="every-minute", ScheduleExpression="rate(1 minute)", StartDate=start,
                              FlexibleTimeWindow={"Mode": "OFF"},
                              Target={"Arn": function["arn"], "RoleArn": ROLE, "Input": '{"from": "schedule"}'})
    once = (now + timedelta(seconds=4)).strftime("%Y-%m-%dT%H:%M:%S")
    scheduler.create_schedule(Name="once", ScheduleExpression=f"at({once})", ActionAfterCompletion="DELETE",
                              FlexibleTimeWindow={"Mode": "OFF"},
                              Target={"Arn": "echo", "RoleArn": ROLE, "Input": '{"from": "at"}'})
    listed = {s["Name"] for s in scheduler.list_schedules()["Schedules"]}
    assert listed == {"every-minute", "once"}
    rate = Schedule.objects.get(name="every-minute")

    fired = processes.wait_until(lambda: list(Firing.objects.filter(schedule=rate, request_id__isnull=False)),
                                 timeout=30, what="the rate schedule to fire")
    assert fired[0].scheduled_at == start + timedelta(minutes=1)
    processes.wait_until(lambda: not Schedule.objects.filter(name="once").exists(), timeout=30,
                         what="the at() schedule to fire and be deleted")
    processes.wait_until(lambda: Invocation.objects.filter(function_name="echo", status="succeeded").count() == 2,
                         timeout=60, what="both invocations to succeed")
    time.sleep(3)  # six more ticks of each beat: nothing fires twice
    assert Firing.objects.filter(schedule=rate).count() == 1
    invocations = list(Invocation.objects.filter(function_name="echo"))
    assert len(invocations) == 2
    assert {bytes(i.payload) for i in invocations} == {b'{"from": "at"}', b'{"from": "schedule"}'}
    # The echo function ran in its sandbox and returned its event.
    assert sorted(json.loads(bytes(i.response))["from"] for i in invocations) == ["at", "schedule"]
    assert fired[0].request_id in {i.request_id for i in invocations}
    assert not Firing.objects.exclude(schedule=rate).exists()  # the at() schedule's went with it
    for beat in platform["beats"]:
        assert "lambent.events.tick" in beat.output() and "Traceback" not in beat.output(), beat.output()[-3000:]

    scheduler.delete_schedule(Name="every-minute")
    assert scheduler.list_schedules()["Schedules"] == []
