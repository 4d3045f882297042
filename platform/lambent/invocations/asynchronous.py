"""Asynchronous invocations, the accepting side: accept, cancel and redrive.

An accepted invocation is an ``Invocation`` row (status ``queued``, its event, its retry
budget and expiry taken from the event invoke config) and its outbox message, committed
together (``store``: one statement on PostgreSQL, ``statements.insert_events``) before the
caller hears 202, with those of the events accepted at the same moment by the same process. The
message is then published at once (``accepting``, on the event loop); when the broker does not
take it within ``REDIS_SOCKET_TIMEOUT``, the invocation is withdrawn (unless a worker already
took it) and the caller hears 503, so a 202 always means the event will run or land as a failure
and a 503 means it never will. The running side is ``processing``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.db import DatabaseError, transaction
from django.utils import timezone

from lambent.errors import Conflict, ServiceUnavailable
from lambent.functions import selectors as function_selectors
from lambent.functions.models import Function
from lambent.iam.models import Tenant
from lambent.invocations import hot_cache, outbox, statements
from lambent.invocations.models import Invocation, InvocationStatus, InvocationType
from lambent.invocations.selectors import invocation_get
from lambent.invocations.services import check_payload

#: Largest asynchronous event.
ASYNC_PAYLOAD_MAX_BYTES = 1024 * 1024

PENDING = (InvocationStatus.QUEUED, InvocationStatus.RETRYING)
REDRIVABLE = (InvocationStatus.FAILED, InvocationStatus.EXPIRED)


@dataclass(frozen=True)
class Event:
    """An ``Event`` invocation to store: of ``function`` (whose ``qualifier`` the caller resolved),
    with its event, already checked (``check_event``)."""

    tenant: Tenant
    function: Function
    qualifier: str | None
    payload: bytes


def check_event(payload: bytes) -> bytes:
    """The event as the function will see it; a user error if it may not be accepted."""
    return check_payload(payload, limit=ASYNC_PAYLOAD_MAX_BYTES)


def store(events: Sequence[Event]) -> list[Invocation]:
    """Commit queued invocations of ``events`` and their outbox messages, all or none (one statement
    on PostgreSQL), the caller to publish them (``accepting``)."""
    try:
        return _enqueue_all(events, publish_after_commit=False)
    except DatabaseError as exc:
        raise ServiceUnavailable("The invocation could not be stored: the database did not answer. Try again.") from exc


def enqueue(*, tenant: Tenant, function: Function, qualifier: str | None, payload: bytes,
            publish_after_commit: bool = True, chain_depth: int = 0) -> Invocation:
    """Write a queued invocation and its outbox message together (in the caller's transaction, if
    any); ``chain_depth`` counts the function destinations that led to it."""
    [invocation] = _enqueue_all([Event(tenant=tenant, function=function, qualifier=qualifier, payload=payload)],
                                publish_after_commit=publish_after_commit, chain_depth=chain_depth)
    return invocation


#: What an accepted invocation's row is given; every other column takes its field's default.
_ACCEPTED = ("request_id", "tenant_id", "function_id", "function_name", "qualifier", "invocation_type", "status",
             "payload", "maximum_retry_attempts", "next_attempt_at", "expires_at", "chain_depth", "created_at")


def _enqueue_all(events: Sequence[Event], *, publish_after_commit: bool, chain_depth: int = 0) -> list[Invocation]:
    now = timezone.now()
    invocations = []
    for event in events:
        assert event.function.tenant_id == event.tenant.id
        config = hot_cache.event_invoke_config(function=event.function, qualifier=event.qualifier)
        invocations.append(Invocation(
            request_id=uuid.uuid4(), tenant=event.tenant, function=event.function, function_name=event.function.name,
            qualifier=event.qualifier or "", invocation_type=InvocationType.EVENT, status=InvocationStatus.QUEUED,
            payload=event.payload, maximum_retry_attempts=config.maximum_retry_attempts, next_attempt_at=now,
            expires_at=now + timedelta(seconds=config.maximum_event_age_seconds), chain_depth=chain_depth,
            created_at=now))
    rows = [({name: getattr(invocation, name) for name in _ACCEPTED},
             {"task": outbox.RUN_INVOCATION, "key": str(invocation.request_id), "due_at": now})
            for invocation in invocations]
    for invocation, pk in zip(invocations, statements.insert_events(rows, now=now), strict=True):
        invocation.pk = pk
        invocation._state.adding = False
        if publish_after_commit:
            key = str(invocation.request_id)
            transaction.on_commit(lambda key=key: outbox.publish_quietly(  # type: ignore[misc]
                task=outbox.RUN_INVOCATION, key=key, due_at=now))
    return invocations


def withdraw(invocations: Sequence[Invocation]) -> set[int]:
    """Take back invocations the broker did not take, but those a worker already has (the broker
    took them after all: they run): the ids of those taken back."""
    withdrawn = set()
    for invocation in invocations:
        with transaction.atomic():
            if Invocation.objects.filter(pk=invocation.pk, fence=0).delete()[0]:
                outbox.done(task=outbox.RUN_INVOCATION, key=str(invocation.request_id))
                withdrawn.add(invocation.pk)
    return withdrawn


def cancel(*, tenant: Tenant, request_id: str) -> Invocation:
    """Stop a queued or retrying invocation before its next attempt; it never runs again."""
    invocation = _pending_or_conflict(tenant=tenant, request_id=request_id, allowed=PENDING, action="cancelled")
    with transaction.atomic():
        changed = Invocation.objects.filter(pk=invocation.pk, fence=invocation.fence, status__in=PENDING).update(
            status=InvocationStatus.CANCELLED, finished_at=timezone.now(), next_attempt_at=None)
        if not changed:
            raise Conflict(f"Invocation {request_id} has just started; it can no longer be cancelled.")
        outbox.done(task=outbox.RUN_INVOCATION, key=str(invocation.request_id))
    invocation.refresh_from_db()
    return invocation


def redrive(*, tenant: Tenant, request_id: str, qualifier: str | None = None) -> Invocation:
    """Queue a failed or expired invocation again, with a fresh retry budget and event age,
    to its own qualifier or to ``qualifier`` (another version or alias of the function). A
    redrive is the tenant's own call: it starts a chain of function destinations afresh."""
    invocation = _pending_or_conflict(tenant=tenant, request_id=request_id, allowed=REDRIVABLE, action="redriven")
    target = invocation.qualifier if qualifier is None else qualifier
    function = function_selectors.function_get(tenant=tenant, name=invocation.function_name)
    function_selectors.qualifier_routing(tenant=tenant, function_name=function.name, qualifier=target or None)
    config = hot_cache.event_invoke_config(function=function, qualifier=target or None)
    now = timezone.now()
    with transaction.atomic():
        changed = Invocation.objects.filter(pk=invocation.pk, status=invocation.status).update(
            status=InvocationStatus.QUEUED, qualifier=target, function=function, next_attempt_at=now,
            maximum_retry_attempts=config.maximum_retry_attempts, function_error_count=0,
            expires_at=now + timedelta(seconds=config.maximum_event_age_seconds),
            finished_at=None, redrive_count=invocation.redrive_count + 1, chain_depth=0)
        if not changed:
            raise Conflict(f"Invocation {request_id} changed meanwhile; look again.")
        outbox.reschedule(task=outbox.RUN_INVOCATION, key=str(invocation.request_id), due_at=now)
    invocation.refresh_from_db()
    return invocation


def _pending_or_conflict(*, tenant: Tenant, request_id: str, allowed: tuple[str, ...], action: str) -> Invocation:
    invocation = invocation_get(tenant=tenant, request_id=request_id)
    if invocation.invocation_type != InvocationType.EVENT:
        raise Conflict(f"Invocation {request_id} was synchronous; only asynchronous ones can be {action}.")
    if invocation.status not in allowed:
        states = " or ".join(allowed)
        raise Conflict(f"Invocation {request_id} is {invocation.status}; only {states} ones can be {action}.")
    return invocation
