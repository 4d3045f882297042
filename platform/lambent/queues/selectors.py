"""Tenant-scoped reads of queues.

Every query starts from ``tenant=``; a queue of another tenant is indistinguishable from
one that does not exist (``NotFound``), whether asked for by name or by ARN.
"""

from __future__ import annotations

import re
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, DateTimeField, DurationField, ExpressionWrapper, F, IntegerField, Q, QuerySet, Value

from lambent.errors import NotFound
from lambent.iam.models import Tenant
from lambent.queues import clock, limits
from lambent.queues.models import Queue


def queue_list(*, tenant: Tenant) -> QuerySet[Queue]:
    """The tenant's queues by name, each with its message counts (see ``_with_counts``)."""
    return _with_counts(Queue.objects.filter(tenant=tenant).select_related("tenant")).order_by("name")


def queue_get(*, tenant: Tenant, name: str) -> Queue:
    return _get(Queue.objects.filter(tenant=tenant).select_related("tenant"), name=name)


def queue_detail(*, tenant: Tenant, name: str) -> Queue:
    """``queue_get`` with the message counts, for showing the queue."""
    return _get(_with_counts(Queue.objects.filter(tenant=tenant).select_related("tenant")), name=name)


def queue_for_arn(*, tenant: Tenant, arn: str) -> Queue:
    """The tenant's queue that ``arn`` names; another account's, region's or partition's ARN
    names none of this tenant's queues, and a malformed one names no queue at all."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs" or not re.fullmatch(limits.NAME_PATTERN, parts[5]):
        raise NotFound(f"Queue not found: {arn} is not a queue ARN (arn:<partition>:sqs:<region>:<account>:<name>).")
    partition, region, account_id, name = parts[1], parts[3], parts[4], parts[5]
    if (partition, region) != (settings.ARN_PARTITION, settings.REGION):
        raise NotFound(f"Queue not found: {arn} (this platform's queues are in partition "
                       f"{settings.ARN_PARTITION}, region {settings.REGION}).")
    if account_id != tenant.account_id:
        raise NotFound(f"Queue not found: {arn}")
    try:
        return queue_get(tenant=tenant, name=name)
    except NotFound:
        raise NotFound(f"Queue not found: {arn}") from None


def _with_counts(queryset: QuerySet[Queue]) -> QuerySet[Queue]:
    """Annotate ``approximate_number_of_messages`` (receivable now) and
    ``approximate_number_of_messages_not_visible`` (received, within their visibility
    timeout). Expired messages count in neither, whether or not they are deleted yet.
    Approximate as SQS's: a receive may change them while they are read."""
    now = clock.now()
    # Retention is per queue, so the cutoff is computed in SQL: seconds times one second.
    # SQLite's duration arithmetic multiplies an IntegerField only, not the column's PositiveIntegerField.
    seconds = ExpressionWrapper(F("message_retention_seconds"), output_field=IntegerField())
    retention = ExpressionWrapper(seconds * Value(timedelta(seconds=1)), output_field=DurationField())
    retained = Q(messages__sent_at__gt=ExpressionWrapper(Value(now) - retention, output_field=DateTimeField()))
    return queryset.annotate(
        approximate_number_of_messages=Count("messages", filter=retained & Q(messages__visible_at__lte=now)),
        approximate_number_of_messages_not_visible=Count("messages",
                                                         filter=retained & Q(messages__visible_at__gt=now)),
    )


def _get(queryset: QuerySet[Queue], *, name: str) -> Queue:
    try:
        return queryset.get(name=name)
    except Queue.DoesNotExist:
        raise NotFound(f"Queue not found: {name}") from None
