"""Shapes of the schedules API: Scheduler's members in snake case, flat; the services check each
rule again (and the ones no field states: the expression, the time zone, the target's account)."""

from __future__ import annotations

from zoneinfo import available_timezones

from rest_framework import serializers

from lambent.api.serializers import Pattern, StrictSerializer
from lambent.events import expressions, services
from lambent.events.models import NAME_PATTERN, AfterCompletion, Firing, Schedule, ScheduleState, WindowMode
from lambent.functions.arns import REFERENCE_PATTERN
from lambent.queues import limits as queue_limits

_NAME_HELP = "1-64 letters, digits, '.', '-' or '_'"
#: The IANA names this machine's zoneinfo knows: what ``timezone`` may be.
TIMEZONES = sorted(available_timezones())
QUEUE_ARN_PATTERN = rf"^arn:[a-z0-9-]+:sqs:[a-z0-9-]+:[0-9]{{12}}:{queue_limits.NAME_PATTERN.strip('^$')}$"


class ScheduleSerializer(serializers.ModelSerializer):
    arn = serializers.CharField(read_only=True)
    group = serializers.CharField(source="group.name", read_only=True)
    schedule_expression = serializers.CharField(source="expression", read_only=True)

    class Meta:
        model = Schedule
        fields = ["name", "group", "arn", "description", "schedule_expression", "timezone", "start_date", "end_date",
                  "state", "window_mode", "window_minutes", "target_arn", "input", "role_arn",
                  "maximum_retry_attempts", "maximum_event_age_seconds", "dead_letter_arn",
                  "action_after_completion", "next_fire_at", "created_at", "last_modified"]
        read_only_fields = fields


class ScheduleWriteSerializer(StrictSerializer):
    """A schedule whole (PUT, or POST with its name); PATCH takes any of these fields."""

    schedule_expression = serializers.CharField(
        max_length=256, validators=[Pattern(expressions.PATTERN, "at(), rate() or cron() with six fields.")],
        help_text="at(yyyy-mm-ddThh:mm:ss), rate(N minute[s]|hour[s]|day[s]) or "
                  "cron(minutes hours day-of-month month day-of-week year); the fields' values are checked too.")
    target_arn = serializers.CharField(
        max_length=1600, validators=[Pattern(REFERENCE_PATTERN, "a function's name or ARN.")],
        help_text="The function's name or Lambda ARN (of this account), with an optional qualifier (name:alias).")
    window_mode = serializers.ChoiceField(choices=WindowMode.choices, default=WindowMode.OFF,
                                          help_text="OFF: at the scheduled time; FLEXIBLE: within window_minutes.")
    window_minutes = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=1440)
    timezone = serializers.ChoiceField(choices=TIMEZONES, default="UTC", help_text="An IANA time zone name.")
    start_date = serializers.DateTimeField(required=False, allow_null=True)
    end_date = serializers.DateTimeField(required=False, allow_null=True)
    state = serializers.ChoiceField(choices=ScheduleState.choices, default=ScheduleState.ENABLED)
    description = serializers.CharField(max_length=512, required=False, allow_blank=True, default="")
    input = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False,
                                  help_text="The JSON event the function gets ({} when empty).")
    role_arn = serializers.CharField(max_length=1600, required=False, allow_blank=True, default="")
    maximum_retry_attempts = serializers.IntegerField(
        min_value=services.RETRY_ATTEMPTS_RANGE[0], max_value=services.RETRY_ATTEMPTS_RANGE[1],
        default=services.RETRY_ATTEMPTS_RANGE[1])
    maximum_event_age_seconds = serializers.IntegerField(
        min_value=services.EVENT_AGE_RANGE[0], max_value=services.EVENT_AGE_RANGE[1],
        default=services.EVENT_AGE_RANGE[1])
    dead_letter_arn = serializers.CharField(
        max_length=1600, required=False, allow_blank=True, default="",
        validators=[Pattern(QUEUE_ARN_PATTERN, "a Lambent queue's ARN.")],
        help_text="A Lambent queue's ARN (of this account): firings that could not be delivered.")
    action_after_completion = serializers.ChoiceField(choices=AfterCompletion.choices, default=AfterCompletion.NONE)

    def spec(self) -> services.ScheduleSpec:
        data = dict(self.validated_data)
        return services.ScheduleSpec(expression=data.pop("schedule_expression"), **data)


class ScheduleCreateSerializer(ScheduleWriteSerializer):
    name = serializers.CharField(validators=[Pattern(NAME_PATTERN, f"{_NAME_HELP}.")],
                                 help_text=f"{_NAME_HELP}; unique in its group.")
    group = serializers.CharField(required=False, validators=[Pattern(NAME_PATTERN, f"{_NAME_HELP}.")],
                                  help_text="The schedule group, 'default' unless given.")

    def spec(self) -> services.ScheduleSpec:
        data = dict(self.validated_data)
        data.pop("name")
        data.pop("group", None)
        return services.ScheduleSpec(expression=data.pop("schedule_expression"), **data)


class FiringSerializer(serializers.ModelSerializer):
    class Meta:
        model = Firing
        fields = ["scheduled_at", "fired_at", "status", "request_id", "error"]
