"""The invocation ledger, the asynchronous outbox and the asynchronous configuration.

One ``Invocation`` row per invocation, written when it is accepted and completed when it
ends: what was asked (function, qualifier, type), what ran (the executed version), how it
went (status, error) and what it cost (duration, billed duration, memory, init duration),
with the tail of its log. Rows outlive their function, so history survives a delete.

An asynchronous invocation also keeps its event, its retry budget, its expiry and a fenced
lease (``fence`` grows with every lease; a worker writes its outcome only while the fence
is still its own), and one ``Attempt`` row per run. ``OutboxMessage`` rows are the Celery
messages the database still owes the broker: committed with the change that calls for
them, so a message lost by Redis is sent again by the sweeper.
"""

from __future__ import annotations

import uuid

from django.db import models

from lambent.functions.models import Function
from lambent.iam.models import Tenant

#: The ledger keeps the end of an invocation's log, up to this many characters.
LOG_TAIL_LIMIT = 64 * 1024


class InvocationType(models.TextChoices):
    REQUEST_RESPONSE = "RequestResponse"
    EVENT = "Event"
    DRY_RUN = "DryRun"


class InvocationStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


def bounded_log(text: str) -> str:
    """The last ``LOG_TAIL_LIMIT`` characters of ``text``, cut at a line start when one is near."""
    if len(text) <= LOG_TAIL_LIMIT:
        return text
    tail = text[-LOG_TAIL_LIMIT:]
    newline = tail.find("\n")
    return tail[newline + 1:] if 0 <= newline < 1024 else tail


class Invocation(models.Model):
    """One invocation of a function, from acceptance to its end."""

    request_id = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="invocations")
    function = models.ForeignKey(Function, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="invocations")
    function_name = models.CharField(max_length=64, help_text="Kept when the function is deleted.")
    qualifier = models.CharField(max_length=128, blank=True, help_text="As asked: a version, an alias or empty.")
    executed_version = models.CharField(max_length=16, blank=True)
    invocation_type = models.CharField(max_length=16, choices=InvocationType.choices)
    status = models.CharField(max_length=16, choices=InvocationStatus.choices, default=InvocationStatus.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    billed_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    max_memory_used_mb = models.PositiveIntegerField(null=True, blank=True)
    init_duration_ms = models.FloatField(null=True, blank=True, help_text="Set on a cold start only.")
    error_type = models.CharField(max_length=128, blank=True)
    error_message = models.TextField(blank=True)
    log_tail = models.TextField(blank=True, help_text=f"The last {LOG_TAIL_LIMIT} characters of the log.")
    # Asynchronous invocations only:
    payload = models.BinaryField(default=b"", blank=True, help_text="The event, kept for retries and redrives.")
    attempt_count = models.PositiveIntegerField(default=0, help_text="Attempts started, whatever their outcome.")
    maximum_retry_attempts = models.PositiveSmallIntegerField(default=0, help_text="Retries allowed after a function "
                                                              "error, from the event invoke config at acceptance.")
    function_error_count = models.PositiveSmallIntegerField(default=0,
                                                            help_text="Attempts that ended in a function error.")
    expires_at = models.DateTimeField(null=True, blank=True, help_text="No attempt starts after this.")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    fence = models.PositiveIntegerField(default=0, help_text="Grows with every lease; outcomes need the current one.")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    admission_slot = models.CharField(max_length=200, blank=True, help_text="The concurrency slot the running "
                                      "attempt holds (pool key and token), freed when a lost attempt is taken over.")
    attempt_started_at = models.DateTimeField(null=True, blank=True)
    redrive_count = models.PositiveSmallIntegerField(default=0)
    chain_depth = models.PositiveSmallIntegerField(
        default=0, help_text="How many function destinations led to this invocation (0: invoked by a caller).")
    function_error = models.CharField(max_length=16, blank=True, help_text="Handled or Unhandled, as Invoke says.")
    response = models.BinaryField(default=b"", blank=True, help_text="The last attempt's response, bounded.")

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "function_name", "-created_at"], name="invocations_by_function"),
            models.Index(fields=["tenant", "status", "-created_at"], name="invocations_by_status"),
            models.Index(fields=["status", "expires_at"], name="invocations_by_expiry"),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.function_name} {self.request_id}"

    def save(self, *args: object, **kwargs: object) -> None:
        self.log_tail = bounded_log(self.log_tail)
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class AttemptOutcome(models.TextChoices):
    SUCCEEDED = "succeeded"
    FUNCTION_ERROR = "function_error"
    PLATFORM_ERROR = "platform_error"
    INTERRUPTED = "interrupted", "interrupted (its worker was lost)"


class Attempt(models.Model):
    """One run of an asynchronous invocation."""

    invocation = models.ForeignKey(Invocation, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    executed_version = models.CharField(max_length=16, blank=True)
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    duration_ms = models.FloatField(null=True, blank=True)
    billed_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    max_memory_used_mb = models.PositiveIntegerField(null=True, blank=True)
    init_duration_ms = models.FloatField(null=True, blank=True)
    error_type = models.CharField(max_length=128, blank=True)
    error_message = models.TextField(blank=True)
    log_tail = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["invocation", "number"], name="invocations_attempt_unique")]
        ordering = ["invocation", "number"]

    def __str__(self) -> str:
        return f"{self.invocation} #{self.number}"

    def save(self, *args: object, **kwargs: object) -> None:
        self.log_tail = bounded_log(self.log_tail)
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class OutboxMessage(models.Model):
    """A Celery task the broker owes: ``task`` with the one argument ``key``, due at ``due_at``.

    Written in the transaction of the change that calls for it and published after the
    commit; deleted when its work is done. One the broker lost is published again by the
    sweeper once it is overdue; the task's own checks make a duplicate harmless."""

    task = models.CharField(max_length=64)
    key = models.CharField(max_length=64)
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "key"], name="invocations_outbox_unique")]
        indexes = [models.Index(fields=["due_at"], name="invocations_outbox_due")]

    def __str__(self) -> str:
        return f"{self.task}({self.key})"


#: Lambda's defaults and bounds of an event invoke configuration.
DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 2
DEFAULT_MAXIMUM_EVENT_AGE_SECONDS = 21600


class EventInvokeConfig(models.Model):
    """How asynchronous invocations of one qualifier of a function are retried, how long
    they may wait, and where their records go (destination ARNs or webhook URLs)."""

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="event_invoke_configs")
    qualifier = models.CharField(max_length=128, help_text="$LATEST, a version number or an alias name.")
    maximum_retry_attempts = models.PositiveSmallIntegerField(default=DEFAULT_MAXIMUM_RETRY_ATTEMPTS)
    maximum_event_age_seconds = models.PositiveIntegerField(default=DEFAULT_MAXIMUM_EVENT_AGE_SECONDS)
    on_success = models.CharField(max_length=2048, blank=True)
    on_failure = models.CharField(max_length=2048, blank=True)
    last_modified = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["function", "qualifier"], name="invocations_eic_unique")]
        ordering = ["function", "qualifier"]

    def __str__(self) -> str:
        return f"{self.function}:{self.qualifier}"


class DeadLetterConfig(models.Model):
    """Where the events of a function's failed asynchronous invocations go, whatever the qualifier."""

    function = models.OneToOneField(Function, on_delete=models.CASCADE, related_name="dead_letter_config")
    target = models.CharField(max_length=2048)
    last_modified = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.function} -> {self.target}"


class WebhookDelivery(models.Model):
    """A record owed to an HTTP webhook, sent by a task and retried until it is accepted."""

    delivery_id = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="webhook_deliveries")
    url = models.CharField(max_length=2048)
    body = models.BinaryField()
    headers = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    abandoned_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.url} {self.delivery_id}"
