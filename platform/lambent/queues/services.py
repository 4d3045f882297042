"""Writes of queues and messages: every rule of the API, and the receive that never hands
one message to two receivers.

Each service takes ``tenant=`` and either completes or changes nothing: validation runs
before any write. Message services take the ``Queue`` their caller looked up with the same
tenant (a selector), so the async-invocation code can send a failure record inside its own
transaction: ``message_send`` is one insert and joins the caller's transaction.

Receiving is the one contended write. On PostgreSQL the receivable rows are claimed with
``SELECT ... FOR UPDATE SKIP LOCKED``: concurrent receivers each take different rows and
never wait on one another. SQLite has no row locks; there every transaction is IMMEDIATE
(see settings), so it takes the database's write lock at BEGIN and receivers run one after
the other, each seeing what the previous one claimed.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet

from lambent.errors import Conflict, InvalidParameter, NotFound, RequestTooLarge
from lambent.iam.models import Tenant
from lambent.queues import clock, limits, selectors
from lambent.queues.models import Message, Queue

_SETTINGS = {
    "visibility_timeout": (limits.VISIBILITY_TIMEOUT_MIN_S, limits.VISIBILITY_TIMEOUT_MAX_S),
    "message_retention_seconds": (limits.RETENTION_MIN_S, limits.RETENTION_MAX_S),
}


def queue_create(
    *, tenant: Tenant, name: str, visibility_timeout: int | None = None, message_retention_seconds: int | None = None
) -> Queue:
    """A new queue; settings left out take their defaults."""
    found = _settings_problems(visibility_timeout=visibility_timeout,
                               message_retention_seconds=message_retention_seconds)
    if not isinstance(name, str) or not re.fullmatch(limits.NAME_PATTERN, name):
        found["name"] = [f"name must be 1-{limits.NAME_MAX} letters, digits, '-' or '_'."]
    if found:
        raise InvalidParameter(fields=found)
    queue = Queue(tenant=tenant, name=name)
    _apply_settings(queue, visibility_timeout=visibility_timeout, message_retention_seconds=message_retention_seconds)
    try:
        with transaction.atomic():
            if Queue.objects.filter(tenant=tenant, name=name).exists():
                raise Conflict(f"Queue already exists: {name}")
            queue.save()
            return queue
    except IntegrityError:
        raise Conflict(f"Queue already exists: {name}") from None


def queue_update(
    *, tenant: Tenant, name: str, visibility_timeout: int | None = None, message_retention_seconds: int | None = None
) -> Queue:
    """Change the settings given; a shorter retention expires older messages at once."""
    found = _settings_problems(visibility_timeout=visibility_timeout,
                               message_retention_seconds=message_retention_seconds)
    if found:
        raise InvalidParameter(fields=found)
    queue = selectors.queue_get(tenant=tenant, name=name)
    _apply_settings(queue, visibility_timeout=visibility_timeout, message_retention_seconds=message_retention_seconds)
    queue.save(update_fields=["visibility_timeout", "message_retention_seconds"])
    return queue


def queue_delete(*, tenant: Tenant, name: str) -> None:
    """The queue and every message in it."""
    selectors.queue_get(tenant=tenant, name=name).delete()


def message_send(*, tenant: Tenant, queue: Queue, body: str, attributes: Mapping[str, str] | None = None) -> Message:
    """Store a message, receivable at once. Joins the caller's transaction, if any."""
    _check_owner(tenant=tenant, queue=queue)
    attributes = dict(attributes or {})
    found = _message_problems(body=body, attributes=attributes)
    if found:
        raise InvalidParameter(fields=found)
    size = len(body.encode()) + sum(len(key.encode()) + len(value.encode()) for key, value in attributes.items())
    if size > limits.MESSAGE_MAX_BYTES:
        raise RequestTooLarge(f"The message is {size} bytes; body and attributes together may be at most "
                              f"{limits.MESSAGE_MAX_BYTES} bytes (UTF-8).")
    now = clock.now()
    return Message.objects.create(queue=queue, body=body, attributes=attributes, sent_at=now, visible_at=now)


def messages_receive(
    *, tenant: Tenant, queue: Queue, max_messages: int = 1, visibility_timeout: int | None = None
) -> list[Message]:
    """Take up to ``max_messages`` receivable messages, oldest first, and hide them for the
    visibility timeout (the queue's unless given). Each gets a new receipt handle; the
    handles they had stop working. An empty list when none is receivable."""
    _check_owner(tenant=tenant, queue=queue)
    found = _receive_problems(max_messages=max_messages, visibility_timeout=visibility_timeout)
    if found:
        raise InvalidParameter(fields=found)
    hidden_for = timedelta(seconds=queue.visibility_timeout if visibility_timeout is None else visibility_timeout)
    with transaction.atomic():
        now = clock.now()  # once the transaction began: on SQLite, once this receiver holds the write lock
        cutoff = now - timedelta(seconds=queue.message_retention_seconds)
        _purge_expired(queue=queue, cutoff=cutoff)
        receivable = Message.objects.filter(queue=queue, visible_at__lte=now, sent_at__gt=cutoff).order_by("id")
        taken = list(_claim(receivable)[:max_messages])
        for message in taken:
            message.visible_at = now + hidden_for
            message.receive_count += 1
            message.receipt_handle = secrets.token_urlsafe(32)
        Message.objects.bulk_update(taken, ["visible_at", "receive_count", "receipt_handle"])
    return taken


def message_delete(*, tenant: Tenant, queue: Queue, receipt_handle: str) -> None:
    """Delete the message that ``receipt_handle`` was last issued to."""
    _check_owner(tenant=tenant, queue=queue)
    deleted = 0
    if receipt_handle:  # a message never received has an empty handle: nothing deletes it
        deleted, _ = Message.objects.filter(queue=queue, receipt_handle=receipt_handle).delete()
    if not deleted:
        raise NotFound("The receipt handle is not valid (the message was received again, or deleted).")


# --- helpers ------------------------------------------------------------------------------


def _check_owner(*, tenant: Tenant, queue: Queue) -> None:
    assert queue.tenant_id == tenant.id, "the queue must come from a selector called with the same tenant"


def _claim(queryset: QuerySet[Message]) -> QuerySet[Message]:
    """Lock the rows a receive takes, skipping those another receiver holds. Without row
    locks (SQLite) the IMMEDIATE transaction already holds the database's write lock."""
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True)
    return queryset


def _purge_expired(*, queue: Queue, cutoff: datetime) -> None:
    """Delete a batch of messages sent before ``cutoff``, skipping rows another receive holds."""
    expired = _claim(Message.objects.filter(queue=queue, sent_at__lte=cutoff).order_by("id"))
    ids = list(expired.values_list("id", flat=True)[:limits.PURGE_BATCH])
    if ids:
        Message.objects.filter(id__in=ids).delete()


def _apply_settings(queue: Queue, *, visibility_timeout: int | None, message_retention_seconds: int | None) -> None:
    if visibility_timeout is not None:
        queue.visibility_timeout = visibility_timeout
    if message_retention_seconds is not None:
        queue.message_retention_seconds = message_retention_seconds


def _settings_problems(**values: int | None) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for field, value in values.items():
        low, high = _SETTINGS[field]
        if value is not None and not _is_int_between(value, low, high):
            found[field] = [f"{field} must be a whole number of seconds from {low} to {high}."]
    return found


def _receive_problems(*, max_messages: int, visibility_timeout: int | None) -> dict[str, list[str]]:
    found = _settings_problems(visibility_timeout=visibility_timeout)
    if not _is_int_between(max_messages, 1, limits.RECEIVE_MAX):
        found["max_messages"] = [f"max_messages must be a whole number from 1 to {limits.RECEIVE_MAX}."]
    return found


def _message_problems(*, body: Any, attributes: dict[Any, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    if not isinstance(body, str) or not body:
        found["body"] = ["body must be a non-empty string."]
    elif _text_problem(body):
        found["body"] = [f"body {_text_problem(body)}"]
    problems = [problem for key, value in attributes.items() for problem in _attribute_problems(key, value)]
    if len(attributes) > limits.ATTRIBUTES_MAX:
        problems.insert(0, f"A message has at most {limits.ATTRIBUTES_MAX} attributes.")
    if problems:
        found["attributes"] = problems
    return found


def _attribute_problems(name: Any, value: Any) -> list[str]:
    if not isinstance(name, str) or not re.fullmatch(limits.ATTRIBUTE_NAME_PATTERN, name):
        return [f"Attribute name {name!r} must be 1-256 letters, digits, '_', '-' or '.'."]
    if not isinstance(value, str):
        return [f"The value of attribute {name} must be a string."]
    problem = _text_problem(value)
    return [f"The value of attribute {name} {problem}"] if problem else []


def _text_problem(text: str) -> str | None:
    """Text every database stores as given: PostgreSQL refuses NUL characters, and a lone
    surrogate has no UTF-8 form."""
    if "\x00" in text:
        return "must not contain NUL characters."
    try:
        text.encode()
    except UnicodeEncodeError:
        return "must be valid Unicode text (no lone surrogates)."
    return None


def _is_int_between(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
