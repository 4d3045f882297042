"""Writes of schedules and schedule groups: every rule of both APIs, checked before anything is stored.

A schedule is written whole (``ScheduleSpec``), as Scheduler's CreateSchedule and UpdateSchedule
take it; the native API's PATCH fills what it leaves out from the stored schedule
(``spec_of``). Every write recomputes ``next_fire_at`` from the clock, so the tick needs no
expression to find what is due. A target is checked for its form and account, not for its
existence, as Scheduler does: a schedule may name a function created later, and a firing whose
function is gone is recorded as failed and sent to the dead-letter queue (``firing``).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import TextChoices

from lambent.errors import Conflict, InvalidParameter, NotFound, UserError
from lambent.events import clock, expressions, selectors
from lambent.events.expressions import ScheduleInvalid
from lambent.events.models import (
    DEFAULT_GROUP,
    NAME_PATTERN,
    AfterCompletion,
    Schedule,
    ScheduleGroup,
    ScheduleState,
    WindowMode,
)
from lambent.functions.arns import parse_function_reference
from lambent.iam.models import Tenant
from lambent.invocations import asynchronous
from lambent.queues import selectors as queue_selectors

RETRY_ATTEMPTS_RANGE = (0, 185)
EVENT_AGE_RANGE = (60, 86400)
WINDOW_MINUTES_RANGE = (1, 1440)


@dataclass(frozen=True)
class ScheduleSpec:
    """Everything a schedule is, as both APIs give it (Scheduler's defaults where they have one)."""

    expression: str
    target_arn: str
    window_mode: str
    window_minutes: int | None = None
    timezone: str = "UTC"
    start_date: datetime | None = None
    end_date: datetime | None = None
    state: str = ScheduleState.ENABLED
    description: str = ""
    input: str = ""
    role_arn: str = ""
    maximum_retry_attempts: int = RETRY_ATTEMPTS_RANGE[1]
    maximum_event_age_seconds: int = EVENT_AGE_RANGE[1]
    dead_letter_arn: str = ""
    action_after_completion: str = AfterCompletion.NONE


def spec_of(schedule: Schedule) -> ScheduleSpec:
    """The spec a stored schedule was written with."""
    return ScheduleSpec(**{field.name: getattr(schedule, field.name) for field in dataclasses.fields(ScheduleSpec)})


def schedule_create(*, tenant: Tenant, name: str, spec: ScheduleSpec, group_name: str | None = None) -> Schedule:
    _check_name(name, field="name")
    group = selectors.group_get(tenant=tenant, name=group_name or DEFAULT_GROUP)
    schedule = Schedule(tenant=tenant, group=group, name=name)
    _apply(schedule, spec, tenant=tenant, expression_changed=True)
    try:
        with transaction.atomic():
            if Schedule.objects.filter(group=group, name=name).exists():
                raise Conflict(f"Schedule {name} already exists.")
            schedule.save()
    except IntegrityError:
        raise Conflict(f"Schedule {name} already exists.") from None
    return schedule


def schedule_update(*, tenant: Tenant, name: str, spec: ScheduleSpec, group_name: str | None = None) -> Schedule:
    """Replace the schedule whole; a new expression or start date restarts a rate's count."""
    with transaction.atomic():
        schedule = selectors.schedule_get(tenant=tenant, name=name, group_name=group_name, for_update=True)
        old = spec_of(schedule)
        changed = (old.expression, old.start_date) != (spec.expression, spec.start_date)
        _apply(schedule, spec, tenant=tenant, expression_changed=changed)
        schedule.save()
    return schedule


def schedule_delete(*, tenant: Tenant, name: str, group_name: str | None = None) -> None:
    selectors.schedule_get(tenant=tenant, name=name, group_name=group_name).delete()


def group_create(*, tenant: Tenant, name: str) -> ScheduleGroup:
    _check_name(name, field="name")
    try:
        with transaction.atomic():
            if ScheduleGroup.objects.filter(tenant=tenant, name=name).exists():
                raise Conflict(f"Schedule group {name} already exists.")
            return ScheduleGroup.objects.create(tenant=tenant, name=name)
    except IntegrityError:
        raise Conflict(f"Schedule group {name} already exists.") from None


def group_delete(*, tenant: Tenant, name: str) -> None:
    """The group and every schedule in it; the default group stays."""
    if name == DEFAULT_GROUP:
        raise ScheduleInvalid("The default schedule group cannot be deleted.", field="name")
    try:
        ScheduleGroup.objects.get(tenant=tenant, name=name).delete()
    except ScheduleGroup.DoesNotExist:
        raise NotFound(f"Schedule group {name} does not exist.") from None


def next_fire(schedule: Schedule, *, at_or_after: datetime) -> datetime | None:
    """The next instant ``schedule`` fires at, at or after ``at_or_after``: None when it is disabled
    or nothing is left before its end date."""
    if schedule.state != ScheduleState.ENABLED:
        return None
    moment = max(at_or_after, schedule.start_date) if schedule.start_date else at_or_after
    found = expressions.parse(schedule.expression).first_at_or_after(
        moment, tz=expressions.zone(schedule.timezone), anchor=schedule.rate_anchor)
    if found is None or (schedule.end_date is not None and found > schedule.end_date):
        return None
    return found


def _apply(schedule: Schedule, spec: ScheduleSpec, *, tenant: Tenant, expression_changed: bool) -> None:
    _check(spec, tenant=tenant)
    for field in dataclasses.fields(ScheduleSpec):
        setattr(schedule, field.name, getattr(spec, field.name))
    reference = parse_function_reference(spec.target_arn, field="target_arn")
    schedule.function_name, schedule.qualifier = reference.name, reference.qualifier or ""
    now = clock.now()
    if expression_changed or schedule.rate_anchor is None:
        schedule.rate_anchor = spec.start_date or now
    schedule.next_fire_at = next_fire(schedule, at_or_after=now)


def _check(spec: ScheduleSpec, *, tenant: Tenant) -> None:
    expressions.parse(spec.expression)
    expressions.zone(spec.timezone)
    _check_choice(spec.state, ScheduleState, field="state")
    _check_choice(spec.window_mode, WindowMode, field="window_mode")
    _check_choice(spec.action_after_completion, AfterCompletion, field="action_after_completion")
    if spec.window_mode == WindowMode.FLEXIBLE:
        if spec.window_minutes is None:
            raise ScheduleInvalid("MaximumWindowInMinutes is required when the flexible time window's Mode is "
                                  "FLEXIBLE.", field="window_minutes")
        _check_range(spec.window_minutes, WINDOW_MINUTES_RANGE, field="window_minutes")
    elif spec.window_minutes is not None:
        raise ScheduleInvalid("MaximumWindowInMinutes is only for a flexible time window whose Mode is FLEXIBLE.",
                              field="window_minutes")
    _check_range(spec.maximum_retry_attempts, RETRY_ATTEMPTS_RANGE, field="maximum_retry_attempts")
    _check_range(spec.maximum_event_age_seconds, EVENT_AGE_RANGE, field="maximum_event_age_seconds")
    if spec.start_date and spec.end_date and spec.end_date <= spec.start_date:
        raise ScheduleInvalid("The EndDate must be after the StartDate.", field="end_date")
    if len(spec.description) > 512:
        raise ScheduleInvalid("Description must be at most 512 characters.", field="description")
    _check_target(spec, tenant=tenant)


def _check_target(spec: ScheduleSpec, *, tenant: Tenant) -> None:
    try:
        reference = parse_function_reference(spec.target_arn, field="target_arn")
    except InvalidParameter:  # said in Scheduler's words
        raise ScheduleInvalid(f"Invalid target ARN {spec.target_arn}: a Lambent function's name or Lambda ARN.",
                              field="target_arn") from None
    if reference.account_id is not None and reference.account_id != tenant.account_id:
        raise ScheduleInvalid(f"Invalid target ARN {spec.target_arn}: the function must be of this account "
                              f"({tenant.account_id}).", field="target_arn")
    try:
        asynchronous.check_event((spec.input or "{}").encode())
    except UserError as exc:  # the invoke path's refusal, said as a validation error
        raise ScheduleInvalid(f"Invalid Input: {exc.message}", field="input") from None
    if spec.dead_letter_arn:
        try:
            queue_selectors.queue_for_arn(tenant=tenant, arn=spec.dead_letter_arn)
        except NotFound as exc:
            raise ScheduleInvalid(f"Invalid DeadLetterConfig Arn: {exc.message}", field="dead_letter_arn") from None


def _check_name(name: str, *, field: str) -> None:
    if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
        raise ScheduleInvalid(f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: "
                              "Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+", field=field)


def _check_choice(value: str, choices: type[TextChoices], *, field: str) -> None:
    if value not in choices.values:
        allowed = ", ".join(choices.values)
        raise ScheduleInvalid(f"{field} must be one of {allowed}, not {value!r}.", field=field)


def _check_range(value: int, bounds: tuple[int, int], *, field: str) -> None:
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ScheduleInvalid(f"{field} must be a whole number from {low} to {high}.", field=field)
