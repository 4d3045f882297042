"""Queues and their messages.

A message is a row from send to delete. Receiving it does not remove it: it moves
``visible_at`` into the future (the visibility timeout) and hands out a fresh receipt
handle, the only thing that can delete it. A consumer that does not delete in time sees
the message come back, with its ``receive_count`` one higher. Messages older than their
queue's retention are never returned and are deleted as receives come across them.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from lambent.iam.models import Tenant
from lambent.queues import limits


class Queue(models.Model):
    """A tenant's message queue, named within the tenant."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="queues")
    name = models.CharField(max_length=limits.NAME_MAX)
    visibility_timeout = models.PositiveIntegerField(
        default=limits.VISIBILITY_TIMEOUT_DEFAULT_S, help_text="Seconds a received message stays hidden.")
    message_retention_seconds = models.PositiveIntegerField(
        default=limits.RETENTION_DEFAULT_S, help_text="Seconds a message is kept after it was sent.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="queues_queue_unique_name")]

    def __str__(self) -> str:
        return f"{self.tenant.name}/{self.name}"

    @property
    def arn(self) -> str:
        """SQS-shaped on purpose: Lambda tooling (boto3, the AWS CLI, SAM) accepts it where a
        destination or dead-letter ARN is expected. ``selectors.queue_for_arn`` reads it back."""
        return f"arn:{settings.ARN_PARTITION}:sqs:{settings.REGION}:{self.tenant.account_id}:{self.name}"


class Message(models.Model):
    """One message of a queue, from send until a receiver deletes it or it expires."""

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="messages")
    message_id = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    body = models.TextField()
    attributes = models.JSONField(default=dict, blank=True, help_text="Names to string values.")
    sent_at = models.DateTimeField()
    visible_at = models.DateTimeField(help_text="Receivable from this time on.")
    receive_count = models.PositiveIntegerField(default=0)
    receipt_handle = models.CharField(
        max_length=64, blank=True,
        help_text="Issued anew on every receive; only the latest one deletes the message.")

    class Meta:
        indexes = [
            models.Index(fields=["queue", "visible_at"], name="queues_message_receivable"),
            models.Index(fields=["queue", "sent_at"], name="queues_message_expiry"),
            models.Index(fields=["receipt_handle"], name="queues_message_receipt"),
        ]

    def __str__(self) -> str:
        return str(self.message_id)
