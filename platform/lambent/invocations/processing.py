"""Asynchronous invocations, the running side: what a worker does with a message, and the sweeper.

The life of an invocation (``Invocation.status``)::

    accepted ─► queued ─lease─► running ─success──────────────► succeeded ─► on-success destination
                  ▲               │
                  │   function error with a retry left (after ASYNC_RETRY_DELAYS),
                  │   platform error, lost worker (after a doubling wait)
                  └── retrying ◄──┘
                                  └─function error, no retry left─► failed ─► on-failure destination,
    queued or retrying past its expiry ─────────────────────────► expired     dead-letter target

A message is only a hint that an invocation may be due. ``process`` reads the row and
decides; it takes the lease with an update conditional on ``fence``, which every lease
increments, and writes the outcome only while the fence is still its own. So a
duplicated or redelivered message never runs an attempt twice, nor two attempts at once.
A lease lasts ``ASYNC_LEASE_SECONDS`` and is renewed while the attempt runs (``leases``): a
worker that dies mid-attempt leaves a lease that runs out, and the next message (the sweeper
sends one) records that attempt as interrupted and starts the next. The outcome, the attempt's
row and the records for destinations commit in one transaction: each lands once, and a
database that fails meanwhile is tried again (``leases.atomic_retried``) rather than the
attempt run twice. Everything before the run is read afresh and retried whole, since nothing
has run yet.

A message may name a batch of invocations accepted together (``accepting``); ``process_batch``
runs them one after the other, the ones waiting held meanwhile (``leases.Keeper.waiting``). The
lookup, the lease and the outcome are hand-written statements (``statements``): on PostgreSQL an
attempt costs three, the outcome with its row and its outbox message in one.

An attempt also holds a concurrency slot (``lambent.quotas.admission``), taken before the lease
and given back once the run ends, before its outcome is written. The slot is named after the
attempt (``admission.attempt_token``): a worker killed between the two leaves its slot to whoever
leases that attempt next, instead of held until the slot's lease runs out. A throttled invocation
is no attempt, as in Lambda: it waits (``retrying``, its retry budget untouched) about as long as
it has waited already, until it is admitted or its event age runs out; a function whose
reservation is 0 can never be admitted, so its invocations fail at once, to the on-failure
destination and the dead-letter target.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from lambent import jsonbody, metrics
from lambent.errors import NotFound, ServiceUnavailable, Throttled
from lambent.functions.models import Function
from lambent.invocations import destinations, event_configs, hot_cache, leases, outbox, services, statements
from lambent.invocations.hot_cache import Routing, Target
from lambent.invocations.models import (
    Attempt,
    AttemptOutcome,
    Invocation,
    InvocationStatus,
    InvocationType,
    bounded_log,
)
from lambent.quotas import admission
from worker import executors

logger = logging.getLogger(__name__)

PENDING = (InvocationStatus.QUEUED, InvocationStatus.RETRYING)
TERMINAL = (InvocationStatus.SUCCEEDED, InvocationStatus.FAILED, InvocationStatus.EXPIRED,
            InvocationStatus.CANCELLED)
#: The part of a response kept for the ledger and destination records, as Lambda's 256 KB.
RESPONSE_KEEP_BYTES = 256 * 1024

RETRIES_EXHAUSTED = "RetriesExhausted"
EVENT_AGE_EXCEEDED = "EventAgeExceeded"
PLATFORM_ERROR = "Lambent.PlatformError"
WORKER_LOST = "Lambent.WorkerLost"
#: An invocation's fields once no attempt holds it.
LEASE_FREED: dict[str, Any] = {"lease_expires_at": None, "admission_slot": ""}


@dataclass(frozen=True)
class Lease:
    invocation: Invocation
    target: Target
    fence: int
    number: int
    started_at: datetime


def process(*, request_id: str) -> None:
    """Run the invocation's next attempt if it is due and nobody holds it; otherwise nothing."""
    leases.wait_for_executor()
    taken = leases.retried(lambda: _next_attempt(request_id=request_id), what=f"invocation {request_id}")
    if taken is None:
        return
    _attempt(*taken)


def process_batch(*, request_ids: Sequence[str]) -> None:
    """``process`` each of a batch's invocations (``accepting``) in turn, those still waiting held
    meanwhile (``leases.Keeper.waiting``)."""
    if len(request_ids) == 1:
        process(request_id=request_ids[0])
        return
    with leases.keeper.waiting(request_ids[1:]) as waiting:
        for request_id in request_ids:
            waiting.discard(request_id)
            process(request_id=request_id)


def _next_attempt(*, request_id: str) -> tuple[Lease, admission.Slot] | None:
    """The lease of the invocation's next attempt with its concurrency slot, when it is due, nobody
    holds it and it is admitted; else what the invocation's state calls for (ending it, waiting)."""
    invocation = statements.invocation(request_id=request_id)
    if invocation is None or invocation.status in TERMINAL:
        outbox.done(task=outbox.RUN_INVOCATION, key=request_id)
        return None
    now = timezone.now()
    abandoned = invocation.status == InvocationStatus.RUNNING and _lease_over(invocation, now)
    if invocation.status == InvocationStatus.RUNNING and not abandoned:
        return None
    assert invocation.expires_at is not None
    if invocation.expires_at <= now:
        _expire(invocation, abandoned=abandoned)
        return None
    if not abandoned and invocation.next_attempt_at and invocation.next_attempt_at > now:
        outbox.publish_quietly(task=outbox.RUN_INVOCATION, key=request_id, due_at=invocation.next_attempt_at)
        return None
    if invocation.chain_depth >= destinations.RECURSION_LIMIT:
        _end_unrun(invocation, abandoned=abandoned, status=InvocationStatus.FAILED,
                   error_type=destinations.RECURSIVE_INVOCATION,
                   error_message=f"Stopped a recursive loop: {destinations.RECURSION_LIMIT} invocations chained "
                                 "by function destinations came before this one.")
        return None
    try:
        target = _routing(invocation).pick()
    except NotFound as exc:
        _end(invocation, status=InvocationStatus.FAILED, fence=invocation.fence, error_type="ResourceNotFoundException",
             error_message=str(exc))
        return None
    if abandoned and invocation.admission_slot:
        admission.release(admission.Slot.parse(invocation.admission_slot))  # its attempt is over
    return _admitted_lease(invocation, target=target, abandoned=abandoned)


def _admitted_lease(invocation: Invocation, *, target: Target, abandoned: bool) -> tuple[Lease, admission.Slot] | None:
    """Take a concurrency slot, then the lease; the slot is given back unless both were taken.
    The attempt starts once admitted, so attempts that shared a slot never overlap in the ledger."""
    pool = hot_cache.pool(function=target.version.function)
    token = admission.attempt_token(request_id=str(invocation.request_id), fence=invocation.fence + 1)
    try:
        slot = admission.acquire(pool=pool, lease_seconds=admission.lease_seconds(timeout=target.spec.timeout),
                                 token=token)
    except Throttled as exc:
        if pool.never_admits:
            _end_unrun(invocation, abandoned=abandoned, status=InvocationStatus.FAILED, error_type=exc.reason,
                       error_message=exc.message)
        else:
            _postpone(invocation, abandoned=abandoned, error_type=exc.reason, error_message=exc.message)
        return None
    except ServiceUnavailable as exc:
        _postpone(invocation, abandoned=abandoned, error_type=PLATFORM_ERROR, error_message=exc.message)
        return None
    try:
        lease = _lease(invocation, target=target, slot=slot, now=timezone.now(), abandoned=abandoned)
    except BaseException:
        admission.release(slot)
        raise
    if lease is None and not _holds(invocation, slot):
        admission.release(slot)
    return (lease, slot) if lease is not None else None


def _holds(invocation: Invocation, slot: admission.Slot) -> bool:
    """Whether the worker that won this attempt's lease holds ``slot`` (the same token) now."""
    return Invocation.objects.filter(pk=invocation.pk, admission_slot=slot.serialized()).exists()


def _lease_over(invocation: Invocation, now: datetime) -> bool:
    return invocation.lease_expires_at is None or invocation.lease_expires_at <= now


def _routing(invocation: Invocation) -> Routing:
    qualifier = invocation.qualifier or None
    return (hot_cache.routes.get(hot_cache.route_key(invocation.tenant_id, invocation.function_name, qualifier))
            or services.routing(tenant=invocation.tenant, function_name=invocation.function_name, qualifier=qualifier))


def _lease(invocation: Invocation, *, target: Target, slot: admission.Slot, now: datetime,
           abandoned: bool) -> Lease | None:
    number = invocation.attempt_count + 1
    lease = Lease(invocation=invocation, target=target, fence=invocation.fence + 1, number=number, started_at=now)
    # One statement on the common path; a lost worker's attempt is recorded with the takeover.
    with transaction.atomic() if abandoned else contextlib.nullcontext():
        taken = statements.update(Invocation, where={"id": invocation.pk, "fence": invocation.fence,
                                                     "status": invocation.status}, values={
            "status": InvocationStatus.RUNNING, "fence": lease.fence, "attempt_count": number, "next_attempt_at": None,
            "lease_expires_at": now + leases.lease_expiry(), "admission_slot": slot.serialized(),
            "attempt_started_at": now, "started_at": invocation.started_at or now})
        if taken and abandoned:
            _record_interrupted(invocation, now=now)
    return lease if taken else None


def _record_interrupted(invocation: Invocation, *, now: datetime) -> None:
    Attempt.objects.create(
        invocation=invocation, number=invocation.attempt_count, outcome=AttemptOutcome.INTERRUPTED,
        started_at=invocation.attempt_started_at or now, finished_at=invocation.lease_expires_at or now,
        error_type=WORKER_LOST,
        error_message="The worker running this attempt stopped renewing its lease before the attempt ended; "
                      "the attempt is run again.")


def _attempt(lease: Lease, slot: admission.Slot) -> None:
    """Run the attempt and record its outcome. Its slot is given back as soon as the run ends: a
    worker killed while it writes the outcome leaves no slot held until the slot's lease runs out."""
    invocation = lease.invocation
    with leases.keeper.holding(pk=invocation.pk, fence=lease.fence) as held:
        try:
            try:
                result = executors.run_blocking(_run_held(held, _prepared(lease)))
            finally:
                admission.release(slot)
        except asyncio.CancelledError:
            return  # the lease was lost: whoever holds it now records this attempt
        except ServiceUnavailable as exc:
            if isinstance(exc.__cause__, executors.ExecutorUnavailable):
                leases.executor_failed()
            if isinstance(exc.__cause__, executors.ExecutorUnreachable):
                leases.atomic_retried(lambda: _give_back(lease), what=f"invocation {invocation.request_id}")
            else:
                message = str(exc)
                leases.retried(lambda: _finish_platform_error(lease, message),
                               what=f"invocation {invocation.request_id}")
            return
        leases.retried(lambda: _finish(lease, result), what=f"the outcome of invocation {invocation.request_id}")


def _prepared(lease: Lease) -> services.Prepared:
    invocation, target = lease.invocation, lease.target
    function, qualifier = target.version.function, invocation.qualifier
    request = executors.InvokeRequest(
        request_id=str(invocation.request_id), payload=bytes(invocation.payload),
        invoked_function_arn=f"{function.arn}:{qualifier}" if qualifier else function.arn)
    return services.Prepared(tenant=invocation.tenant, version=target.version, qualifier=qualifier,
                             spec=target.spec, request=request, started_at=lease.started_at)


async def _run_held(held: leases.Held, prepared: services.Prepared) -> executors.InvokeResult:
    return await leases.run_while_held(held, asyncio.ensure_future(services.run(prepared)))


def _give_back(lease: Lease) -> None:
    """Undo a lease whose attempt never started (the executor could not be reached): not an attempt,
    as a throttle is none; the invocation is tried again at once, once the executor answers."""
    invocation = lease.invocation
    if Invocation.objects.filter(pk=invocation.pk, fence=lease.fence).update(
            status=InvocationStatus.RETRYING, attempt_count=lease.number - 1, **LEASE_FREED,
            next_attempt_at=lease.started_at):
        invocation.status, invocation.next_attempt_at = InvocationStatus.RETRYING, lease.started_at
        _after(invocation, function=None)


def _finish(lease: Lease, result: executors.InvokeResult) -> None:
    """Record the attempt's outcome, its row and its outbox message in one statement (PostgreSQL),
    in a transaction with the records for destinations when it owes some."""
    invocation, version = lease.invocation, lease.target.version
    now = timezone.now()
    log = bounded_log(services.result_log(request_id=str(invocation.request_id), version=version, result=result))
    outcome = dict(
        executed_version=version.version, duration_ms=result.duration_ms,
        billed_duration_ms=result.billed_duration_ms, max_memory_used_mb=result.max_memory_used_mb,
        init_duration_ms=result.init_duration_ms, error_type=result.error_type or "",
        error_message=services.error_message(result),
    )
    errors = invocation.function_error_count + (1 if result.function_error else 0)
    status, due = InvocationStatus.SUCCEEDED, None
    if result.function_error and errors <= invocation.maximum_retry_attempts:
        status, due = InvocationStatus.RETRYING, now + timedelta(seconds=_retry_delay(errors))
    elif result.function_error:
        status = InvocationStatus.FAILED
    changes = dict(status=status, next_attempt_at=due, **LEASE_FREED, function_error_count=errors,
                   finished_at=None if due else now, log_tail=log,
                   function_error=result.function_error or "", response=result.payload[:RESPONSE_KEEP_BYTES], **outcome)
    attempt = dict(invocation_id=invocation.pk, number=lease.number, started_at=lease.started_at, finished_at=now,
                   log_tail=log, outcome=AttemptOutcome.FUNCTION_ERROR if result.function_error
                   else AttemptOutcome.SUCCEEDED, **outcome)
    if _write_outcome(lease, changes=changes, attempt=attempt, due=due, now=now):
        transaction.on_commit(lambda: _count(invocation, result))


def _write_outcome(lease: Lease, *, changes: dict[str, Any], attempt: dict[str, Any], due: datetime | None,
                   now: datetime) -> bool:
    """Write an ended attempt while its lease holds (False when it no longer did): the invocation's
    ``changes``, the ``attempt`` row, its outbox message deleted or due again at ``due`` (published
    once committed), and the records an ended invocation owes, all together."""
    invocation, function = lease.invocation, lease.target.version.function
    for name, value in changes.items():
        setattr(invocation, name, value)
    invocation.attempt_count = lease.number
    key = str(invocation.request_id)
    owed = [] if due else _records(invocation, function=function)
    with transaction.atomic() if owed else contextlib.nullcontext():
        # Running, too: a write whose answer was lost and is tried again finds its own outcome there.
        held = {"id": invocation.pk, "fence": lease.fence, "status": InvocationStatus.RUNNING}
        if not statements.finish(where=held, values=changes, attempt=attempt, task=outbox.RUN_INVOCATION, key=key,
                                 due_at=due, now=now):
            return False  # the lease ran out and another worker took over: its outcome stands
        for target, body, attributes in owed:
            destinations.deliver(tenant=invocation.tenant, target=target, body=body, attributes=attributes,
                                 chain_depth=invocation.chain_depth)
    if due is not None:
        transaction.on_commit(lambda: outbox.publish_quietly(task=outbox.RUN_INVOCATION, key=key, due_at=due))
    return True


def _count(invocation: Invocation, result: executors.InvokeResult) -> None:
    labels = (invocation.tenant.account_id, invocation.function_name)
    metrics.invocation_ran(tenant=labels[0], function=labels[1], invocation_type=InvocationType.EVENT,
                           failed=bool(result.function_error), init_duration_ms=result.init_duration_ms)
    metrics.ASYNC_OUTCOMES.labels(*labels, "function_error" if result.function_error else "succeeded").inc()


def _finish_platform_error(lease: Lease, message: str) -> None:
    invocation = lease.invocation
    now = timezone.now()
    wait = min(settings.ASYNC_PLATFORM_BACKOFF_SECONDS * 2 ** min(lease.number - 1, 20),
               settings.ASYNC_PLATFORM_BACKOFF_MAX_SECONDS)
    due = now + timedelta(seconds=wait)
    changes = dict(status=InvocationStatus.RETRYING, next_attempt_at=due, **LEASE_FREED,
                   error_type=PLATFORM_ERROR, error_message=message)
    attempt = dict(invocation_id=invocation.pk, number=lease.number, outcome=AttemptOutcome.PLATFORM_ERROR,
                   started_at=lease.started_at, finished_at=now, executed_version=lease.target.version.version,
                   error_type=PLATFORM_ERROR, error_message=message)
    if not _write_outcome(lease, changes=changes, attempt=attempt, due=due, now=now):
        return
    transaction.on_commit(lambda: metrics.ASYNC_OUTCOMES.labels(
        invocation.tenant.account_id, invocation.function_name, "platform_error").inc())
    logger.warning("invocation %s: platform error, next attempt in %.1f s: %s", invocation.request_id, wait, message)


def _retry_delay(function_errors: int) -> float:
    delays = settings.ASYNC_RETRY_DELAYS
    return delays[min(function_errors, len(delays)) - 1] if delays else 0.0


def _expire(invocation: Invocation, *, abandoned: bool) -> None:
    _end_unrun(invocation, abandoned=abandoned, status=InvocationStatus.EXPIRED, error_type=EVENT_AGE_EXCEEDED,
               error_message="The event was older than the function's maximum event age before it could run.")


def _end_unrun(invocation: Invocation, *, abandoned: bool, status: str, error_type: str, error_message: str) -> None:
    """End an invocation without another attempt (recording a lost worker's attempt first)."""
    with transaction.atomic():
        if abandoned and not Invocation.objects.filter(pk=invocation.pk, fence=invocation.fence).exists():
            return
        if abandoned:
            _record_interrupted(invocation, now=timezone.now())
        _end(invocation, status=status, fence=invocation.fence, error_type=error_type, error_message=error_message)


def _postpone(invocation: Invocation, *, abandoned: bool, error_type: str, error_message: str) -> None:
    """Try again later without counting an attempt: the invocation was not admitted (throttled,
    or the counters were out of reach). It waits about as long as it has waited since it was
    accepted or last ran, within the platform backoff's bounds: the waits double while it stays
    refused, with no counter in the ledger. Never past its expiry, where it ends instead."""
    now = timezone.now()
    assert invocation.expires_at is not None
    waited = (now - (invocation.attempt_started_at or invocation.created_at)).total_seconds()
    wait = min(max(waited, settings.ASYNC_PLATFORM_BACKOFF_SECONDS), settings.ASYNC_PLATFORM_BACKOFF_MAX_SECONDS)
    due = min(now + timedelta(seconds=wait), invocation.expires_at)
    with transaction.atomic():
        if not Invocation.objects.filter(pk=invocation.pk, fence=invocation.fence, status=invocation.status).update(
                status=InvocationStatus.RETRYING, next_attempt_at=due, **LEASE_FREED, error_type=error_type,
                error_message=error_message):
            return
        if abandoned:
            _record_interrupted(invocation, now=now)
        invocation.status, invocation.next_attempt_at = InvocationStatus.RETRYING, due
        _after(invocation, function=None)
    logger.info("invocation %s not admitted (%s), next try in %.1f s", invocation.request_id, error_type,
                (due - now).total_seconds())


def _end(invocation: Invocation, *, status: str, fence: int, error_type: str, error_message: str) -> None:
    with transaction.atomic():
        changes = dict(status=status, finished_at=timezone.now(), next_attempt_at=None, **LEASE_FREED,
                       error_type=error_type, error_message=error_message)
        if Invocation.objects.filter(pk=invocation.pk, fence=fence, status=invocation.status).update(**changes):
            for name, value in changes.items():
                setattr(invocation, name, value)
            _after(invocation, function=None)


def _after(invocation: Invocation, *, function: Function | None) -> None:
    """Owe the next message of a retrying invocation, or send the records of an ended one
    (``invocation`` holds its new state; ``function`` is its function when the caller has it)."""
    key = str(invocation.request_id)
    if invocation.status == InvocationStatus.RETRYING:
        assert invocation.next_attempt_at is not None
        outbox.reschedule(task=outbox.RUN_INVOCATION, key=key, due_at=invocation.next_attempt_at)
        return
    outbox.done(task=outbox.RUN_INVOCATION, key=key)
    function = function or invocation.function
    if function is None:
        return
    for target, body, attributes in _records(invocation, function=function):
        destinations.deliver(tenant=invocation.tenant, target=target, body=body, attributes=attributes,
                             chain_depth=invocation.chain_depth)


def _records(invocation: Invocation, *, function: Function) -> list[tuple[str, bytes, dict[str, str]]]:
    """What an ended invocation sends, (target, body, attributes) each: its destination's record
    and, when it failed or expired, its event to the dead-letter target."""
    status = invocation.status
    config = hot_cache.event_invoke_config(function=function, qualifier=invocation.qualifier or None)
    if status == InvocationStatus.SUCCEEDED:
        return [(config.on_success, _destination_record(invocation, function=function, condition="Success"),
                 {})] if config.on_success else []
    if status not in (InvocationStatus.FAILED, InvocationStatus.EXPIRED):
        return []
    condition = RETRIES_EXHAUSTED if status == InvocationStatus.FAILED else EVENT_AGE_EXCEEDED
    owed: list[tuple[str, bytes, dict[str, str]]] = []
    if config.on_failure:
        owed.append((config.on_failure, _destination_record(invocation, function=function, condition=condition), {}))
    dead_letter = event_configs.dead_letter_target(function=function)
    if dead_letter:
        owed.append((dead_letter, bytes(invocation.payload),
                     {"RequestID": str(invocation.request_id), "ErrorCode": "200",
                      "ErrorMessage": (invocation.error_message or condition)[:1024].replace("\x00", "")}))
    return owed


def _destination_record(invocation: Invocation, *, function: Function, condition: str) -> bytes:
    """The record Lambda sends to a destination, with its field names."""
    version = invocation.executed_version or invocation.qualifier or "$LATEST"
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": timezone.now().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {"requestId": str(invocation.request_id), "functionArn": f"{function.arn}:{version}",
                           "condition": condition, "approximateInvokeCount": invocation.attempt_count},
        "requestPayload": _json_or_text(bytes(invocation.payload)),
    }
    if invocation.executed_version:
        response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": invocation.executed_version}
        if invocation.function_error:
            response_context["functionError"] = invocation.function_error
        record["responseContext"] = response_context
        record["responsePayload"] = _json_or_text(bytes(invocation.response))
    return json.dumps(record, separators=(",", ":")).encode()


def _json_or_text(data: bytes) -> Any:
    try:
        return jsonbody.parse(data)  # a function's response may nest deeper than a record can hold
    except ValueError:
        return data.decode(errors="replace")


def sweep(*, limit: int = 500) -> dict[str, int]:
    """Expire events past their age, revive attempts (and batches' waiting events) whose worker was
    lost, and publish again the messages the broker lost. Runs every ``SWEEP_INTERVAL_SECONDS``
    under ``lambent beat``."""
    now = timezone.now()
    expired = 0
    for invocation in Invocation.objects.select_related("tenant").filter(
            status__in=PENDING, expires_at__lte=now)[:limit]:
        _expire(invocation, abandoned=False)
        expired += 1
    revived = 0
    for invocation in Invocation.objects.select_related("tenant").filter(
            status=InvocationStatus.RUNNING, lease_expires_at__lte=now)[:limit]:
        outbox.publish_quietly(task=outbox.RUN_INVOCATION, key=str(invocation.request_id))
        revived += 1
    # Queued events of a batch whose worker was lost before their turn (their hold ran out).
    for pk, request_id, held_until in Invocation.objects.filter(
            status=InvocationStatus.QUEUED, lease_expires_at__lte=now).values_list("pk", "request_id",
                                                                                  "lease_expires_at")[:limit]:
        if Invocation.objects.filter(pk=pk, status=InvocationStatus.QUEUED, lease_expires_at=held_until).update(
                lease_expires_at=None):
            outbox.publish_quietly(task=outbox.RUN_INVOCATION, key=str(request_id))
            revived += 1
    return {"expired": expired, "revived": revived, "redelivered": outbox.redeliver_overdue()}
