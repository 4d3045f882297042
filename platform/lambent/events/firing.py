"""The tick: fire every schedule that is due, each scheduled instant exactly once.

``lambent beat`` sends ``TICK`` every ``SCHEDULE_TICK_SECONDS``; the worker that takes it calls
``tick``. Any number of beats may send it and any number of workers may run it at once:

1. each due schedule is handled in a transaction of its own, holding its row (``FOR UPDATE SKIP
   LOCKED`` on PostgreSQL: another tick skips it rather than wait; SQLite's IMMEDIATE
   transactions run one at a time), and its ``next_fire_at`` is read again under that lock;
2. each scheduled instant is claimed by inserting its ``Firing`` row: the unique constraint on
   (schedule, scheduled_at) refuses a second claim whatever the first one's reader saw, and the
   second claimer skips it (insert-or-skip);
3. the claim, the ``Event`` invocation it makes (``asynchronous.enqueue``: the invocation row
   and its outbox message) and the schedule's new ``next_fire_at`` commit together; the broker
   gets the message after the commit, and the sweeper sends it again if the broker lost it. A
   tick that dies before its commit claimed nothing: the next tick fires the instant.

An instant is fired while it is inside its window: the flexible window (``MaximumWindowInMinutes``)
or, with ``OFF``, ``SCHEDULE_GRACE_SECONDS`` after it. One older than that (nothing ran while it
was due) is recorded as missed and not fired. Lambent fires an instant at the start of its
flexible window (Scheduler spreads them over it); the window is how late a firing may still be.

How a firing maps onto the asynchronous machinery: the invocation retries function errors as
the stricter of the schedule's RetryPolicy and the function's event invoke config allow (fewer
attempts, the earlier expiry, counted from the invocation's acceptance), and a failed
invocation's event goes where the function's own config sends failures (its on-failure
destination or dead-letter target), as in AWS, where Lambda, not Scheduler, owns an accepted event. The schedule's
DeadLetterConfig (a Lambent queue) gets what Scheduler's would: a firing whose target could not
be invoked at all (the function or qualifier is gone), with Scheduler's attributes.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from lambent import metrics
from lambent.errors import UserError
from lambent.events import clock
from lambent.events.expressions import ScheduleInvalid
from lambent.events.models import AfterCompletion, Firing, FiringStatus, Schedule, ScheduleState, WindowMode
from lambent.events.services import next_fire
from lambent.functions import selectors as function_selectors
from lambent.invocations import asynchronous, destinations
from lambent.invocations.models import Invocation

logger = logging.getLogger(__name__)

#: The task ``lambent beat`` sends (``worker.tasks.fire_schedules``).
TICK = "lambent.events.tick"
#: Schedules one tick handles at most, and instants of one schedule (a backlog of missed
#: instants is recorded over several ticks, each one bounded).
SCHEDULES_PER_TICK = 500
INSTANTS_PER_SCHEDULE = 100


def tick(*, now: datetime | None = None) -> dict[str, int]:
    """Fire what is due at ``now`` (the clock's time by default); how many instants fired, were
    missed and failed."""
    now = now or clock.now()
    counts = {FiringStatus.FIRED.value: 0, FiringStatus.MISSED.value: 0, FiringStatus.FAILED.value: 0}
    due = (Schedule.objects.filter(state=ScheduleState.ENABLED, next_fire_at__lte=now)
           .order_by("next_fire_at").values_list("pk", flat=True)[:SCHEDULES_PER_TICK])
    for pk in list(due):
        for outcome in _run(pk, now=now):
            counts[outcome] += 1
    return counts


def _run(pk: int, *, now: datetime) -> list[str]:
    outcomes: list[str] = []
    with transaction.atomic():
        schedule = _hold(pk)
        if schedule is None or schedule.next_fire_at is None or schedule.next_fire_at > now:
            return outcomes  # another tick holds it or has done it
        instant: datetime | None = schedule.next_fire_at
        for _ in range(INSTANTS_PER_SCHEDULE):
            assert instant is not None
            outcome = _claim(schedule, instant=instant, now=now)
            if outcome is not None:
                outcomes.append(outcome)
            instant = _next(schedule, after=instant)
            if instant is None or instant > now:
                break
        if instant is None and schedule.action_after_completion == AfterCompletion.DELETE:
            schedule.delete()
        else:
            Schedule.objects.filter(pk=pk).update(next_fire_at=instant)
    return outcomes


def _next(schedule: Schedule, *, after: datetime) -> datetime | None:
    """The instant after ``after``; none when the schedule cannot be read any more (its time zone
    left this machine's zoneinfo, say): it stops, with an error in the log, and the others go on."""
    try:
        return next_fire(schedule, at_or_after=after + timedelta(seconds=1))
    except ScheduleInvalid as exc:
        logger.error("schedule %s stopped: %s", schedule, exc.message)
        return None


def _hold(pk: int) -> Schedule | None:
    rows = Schedule.objects.filter(pk=pk, state=ScheduleState.ENABLED).select_related("tenant", "group")
    if connection.features.has_select_for_update_skip_locked:
        rows = rows.select_for_update(skip_locked=True, of=("self",))
    return rows.first()


def _window(schedule: Schedule) -> timedelta:
    if schedule.window_mode == WindowMode.FLEXIBLE and schedule.window_minutes:
        return timedelta(minutes=schedule.window_minutes)
    return timedelta(seconds=settings.SCHEDULE_GRACE_SECONDS)


def _claim(schedule: Schedule, *, instant: datetime, now: datetime) -> str | None:
    """Claim ``instant`` and fire it (or record it missed); None when it was claimed already."""
    late = now - instant > _window(schedule)
    try:
        with transaction.atomic():  # a savepoint: a refused claim leaves the rest of the tick alone
            firing = Firing.objects.create(schedule=schedule, scheduled_at=instant, fired_at=now,
                                           status=FiringStatus.MISSED if late else FiringStatus.FIRED)
    except IntegrityError:
        return None
    if late:
        logger.info("schedule %s: %s missed (its window had closed)", schedule, instant.isoformat())
        _count(schedule, status=FiringStatus.MISSED)
        return FiringStatus.MISSED
    try:
        with transaction.atomic():
            firing.request_id = _invoke(schedule).request_id
    except UserError as exc:
        firing.status, firing.error = FiringStatus.FAILED, exc.message
        _dead_letter(schedule, firing=firing)
    firing.save(update_fields=["status", "request_id", "error"])
    _count(schedule, status=firing.status)
    return firing.status


def _count(schedule: Schedule, *, status: str) -> None:
    labels = (schedule.tenant.account_id, schedule.group.name, schedule.name, status)
    transaction.on_commit(lambda: metrics.SCHEDULE_FIRINGS.labels(*labels).inc())


def _invoke(schedule: Schedule) -> Invocation:
    tenant, qualifier = schedule.tenant, schedule.qualifier or None
    function = function_selectors.function_get(tenant=tenant, name=schedule.function_name)
    function_selectors.qualifier_routing(tenant=tenant, function_name=function.name, qualifier=qualifier)
    payload = asynchronous.check_event((schedule.input or "{}").encode())
    invocation = asynchronous.enqueue(tenant=tenant, function=function, qualifier=qualifier, payload=payload)
    retries = min(invocation.maximum_retry_attempts, schedule.maximum_retry_attempts)
    assert invocation.expires_at is not None
    expires = min(invocation.expires_at,
                  invocation.created_at + timedelta(seconds=schedule.maximum_event_age_seconds))
    Invocation.objects.filter(pk=invocation.pk).update(maximum_retry_attempts=retries, expires_at=expires)
    return invocation


def _dead_letter(schedule: Schedule, *, firing: Firing) -> None:
    """Scheduler's dead-letter message: the event, with why it was not delivered."""
    logger.warning("schedule %s: %s not delivered: %s", schedule, firing.scheduled_at.isoformat(), firing.error)
    if not schedule.dead_letter_arn:
        return
    attributes = {"ERROR_CODE": "ResourceNotFoundException", "ERROR_MESSAGE": firing.error[:1024],
                  "SCHEDULE_ARN": schedule.arn, "TARGET_ARN": schedule.target_arn, "RETRY_ATTEMPTS": "0",
                  "SCHEDULED_TIME": firing.scheduled_at.isoformat()}
    # A queue deleted since the schedule was written drops the message, with a warning in the log.
    destinations.deliver(tenant=schedule.tenant, target=schedule.dead_letter_arn,
                         body=(schedule.input or "{}").encode(), attributes=attributes, chain_depth=0)
