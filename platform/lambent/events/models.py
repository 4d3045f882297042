"""Schedule groups, schedules and their firings.

A schedule belongs to a group of its tenant (``default`` unless named) and is unique by name in
it. ``next_fire_at`` is the next instant its expression names within its start and end dates,
kept by every change and every tick (``None``: nothing is left to fire, or it is disabled), so
the tick finds what is due with one indexed query. A ``Firing`` is one scheduled instant,
claimed once: the unique constraint on (schedule, scheduled_at) is what makes two beats, or two
workers running ticks at once, fire it only once (the second insert fails and is skipped).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from lambent.iam.models import Tenant

NAME_PATTERN = r"^[0-9a-zA-Z._-]{1,64}$"
DEFAULT_GROUP = "default"


class ScheduleGroup(models.Model):
    """A tenant's group of schedules; ``default`` exists for every tenant (made when first used)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="schedule_groups")
    name = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_modified = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="events_group_unique_name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.tenant.name}/{self.name}"

    @property
    def arn(self) -> str:
        return (f"arn:{settings.ARN_PARTITION}:scheduler:{settings.REGION}:{self.tenant.account_id}:"
                f"schedule-group/{self.name}")


class ScheduleState(models.TextChoices):
    ENABLED = "ENABLED"
    DISABLED = "DISABLED"


class WindowMode(models.TextChoices):
    OFF = "OFF"
    FLEXIBLE = "FLEXIBLE"


class AfterCompletion(models.TextChoices):
    NONE = "NONE"
    DELETE = "DELETE"


class Schedule(models.Model):
    """When to invoke which function with which event, and what to do when that fails."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="schedules")
    group = models.ForeignKey(ScheduleGroup, on_delete=models.CASCADE, related_name="schedules")
    name = models.CharField(max_length=64)
    description = models.CharField(max_length=512, blank=True)
    expression = models.CharField(max_length=256, help_text="at(), rate() or cron(), as Scheduler writes them.")
    timezone = models.CharField(max_length=50, default="UTC", help_text="IANA name the expression is read in.")
    start_date = models.DateTimeField(null=True, blank=True)
    end_date = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=8, choices=ScheduleState.choices, default=ScheduleState.ENABLED)
    window_mode = models.CharField(max_length=8, choices=WindowMode.choices)
    window_minutes = models.PositiveSmallIntegerField(null=True, blank=True, help_text="FLEXIBLE only.")
    target_arn = models.CharField(max_length=1600, help_text="The function's name or ARN, as given.")
    function_name = models.CharField(max_length=64)
    qualifier = models.CharField(max_length=128, blank=True)
    role_arn = models.CharField(max_length=1600, blank=True, help_text="Kept as given; Lambent does not assume it.")
    input = models.TextField(blank=True, help_text="The event the function gets; empty: {}.")
    maximum_retry_attempts = models.PositiveSmallIntegerField(default=185)
    maximum_event_age_seconds = models.PositiveIntegerField(default=86400)
    dead_letter_arn = models.CharField(max_length=1600, blank=True, help_text="A Lambent queue's ARN.")
    action_after_completion = models.CharField(max_length=8, choices=AfterCompletion.choices,
                                               default=AfterCompletion.NONE)
    rate_anchor = models.DateTimeField(help_text="Where a rate() counts from: the start date, else when the "
                                                 "expression was set.")
    next_fire_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_modified = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "name"], name="events_schedule_unique_name")]
        indexes = [models.Index(fields=["state", "next_fire_at"], name="events_schedule_due")]
        ordering = ["group__name", "name"]

    def __str__(self) -> str:
        return f"{self.group}/{self.name}"

    @property
    def arn(self) -> str:
        return (f"arn:{settings.ARN_PARTITION}:scheduler:{settings.REGION}:{self.tenant.account_id}:"
                f"schedule/{self.group.name}/{self.name}")


class FiringStatus(models.TextChoices):
    FIRED = "fired"  # an Event invocation was accepted: request_id
    MISSED = "missed"  # nothing ran while it was due, and its window had closed when something did
    FAILED = "failed"  # the target could not be invoked (gone, or the event refused): sent to the DLQ


class Firing(models.Model):
    """One scheduled instant of a schedule, claimed once, and what became of it."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="firings")
    scheduled_at = models.DateTimeField()
    fired_at = models.DateTimeField(help_text="When it was claimed.")
    status = models.CharField(max_length=8, choices=FiringStatus.choices)
    request_id = models.UUIDField(null=True, blank=True, help_text="Of the invocation, when it fired.")
    error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["schedule", "scheduled_at"], name="events_firing_once")]
        ordering = ["-scheduled_at"]

    def __str__(self) -> str:
        return f"{self.schedule} @ {self.scheduled_at.isoformat()}"
