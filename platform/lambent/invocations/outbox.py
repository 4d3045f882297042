"""Celery messages through the database: written with the change, published after the commit.

A message published straight from a view is lost when the process dies between the commit
and the publish, and Redis without persistence forgets every message it holds when it
restarts. So each message is first an ``OutboxMessage`` row, written in the transaction of
the change that calls for it, published once that commits, and deleted when its task has
done the work. The sweeper publishes again whatever is overdue (``redeliver_overdue``);
every task checks the database before acting, so a second copy of a message is harmless.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from lambent import broker
from lambent.invocations.models import OutboxMessage

logger = logging.getLogger(__name__)

#: The tasks of ``worker.tasks``, by name: the control plane sends them without importing the worker.
RUN_INVOCATION = "lambent.invocations.run"
DELIVER_WEBHOOK = "lambent.invocations.deliver_webhook"
SWEEP = "lambent.invocations.sweep"


def _eta(due_at: datetime | None) -> datetime | None:
    return due_at if due_at is not None and due_at > timezone.now() else None


def publish(*, task: str, key: str, due_at: datetime | None = None) -> None:
    """Send the message now; ``broker.BrokerUnavailable`` when the broker does not take it in time."""
    broker.publish(task=task, args=[key], eta=_eta(due_at))


async def publish_async(*, task: str, keys: list[str], due_at: datetime | None = None) -> None:
    """``publish`` on the running event loop, one message for all of ``keys`` (a batch)."""
    await broker.publish_async(task=task, args=keys, eta=_eta(due_at))


def publish_quietly(*, task: str, key: str, due_at: datetime | None = None) -> None:
    """Send the message, or leave it to the sweeper when the broker is away."""
    try:
        publish(task=task, key=key, due_at=due_at)
    except broker.BrokerUnavailable as exc:  # the row stays owed
        logger.warning("could not publish %s(%s), the sweeper will: %s", task, key, exc)


def add(*, task: str, key: str, due_at: datetime, publish_after_commit: bool = True) -> None:
    """Owe a new message (inside the caller's transaction), published after the commit unless
    the caller publishes it itself."""
    OutboxMessage.objects.create(task=task, key=key, due_at=due_at)
    if publish_after_commit:
        transaction.on_commit(lambda: publish_quietly(task=task, key=key, due_at=due_at))


def reschedule(*, task: str, key: str, due_at: datetime) -> None:
    """Owe the message again for ``due_at`` (inside the caller's transaction)."""
    if not OutboxMessage.objects.filter(task=task, key=key).update(due_at=due_at):
        OutboxMessage.objects.create(task=task, key=key, due_at=due_at)
    transaction.on_commit(lambda: publish_quietly(task=task, key=key, due_at=due_at))


def done(*, task: str, key: str) -> None:
    OutboxMessage.objects.filter(task=task, key=key).delete()


def redeliver_overdue(*, limit: int = 1000) -> int:
    """Publish again every message overdue by ``ASYNC_REDELIVERY_SECONDS``; how many were sent."""
    now = timezone.now()
    overdue = list(OutboxMessage.objects.filter(due_at__lt=now - timedelta(seconds=settings.ASYNC_REDELIVERY_SECONDS))
                   .order_by("due_at")[:limit])
    sent = 0
    for message in overdue:
        try:
            publish(task=message.task, key=message.key)
        except broker.BrokerUnavailable as exc:  # try again next sweep
            logger.warning("redelivery stopped, the broker does not answer: %s", exc)
            break
        OutboxMessage.objects.filter(pk=message.pk, due_at=message.due_at).update(due_at=now)
        sent += 1
    return sent
