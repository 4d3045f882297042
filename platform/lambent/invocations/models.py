"""The invocation ledger.

One row per invocation, written when it is accepted and completed when it ends: what
was asked (function, qualifier, type), what ran (the executed version), how it went
(status, error) and what it cost (duration, billed duration, memory, init duration),
with the tail of its log. Rows outlive their function, so history survives a delete.
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

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "function_name", "-created_at"], name="invocations_by_function"),
            models.Index(fields=["tenant", "status", "-created_at"], name="invocations_by_status"),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.function_name} {self.request_id}"

    def save(self, *args: object, **kwargs: object) -> None:
        self.log_tail = bounded_log(self.log_tail)
        super().save(*args, **kwargs)  # type: ignore[arg-type]
