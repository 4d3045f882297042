"""Where the records of asynchronous invocations go: another function, a Lambent queue or a webhook.

A destination is written as the ARN of a function of the same account (invoked
asynchronously with the record as its event), the ARN of a Lambent queue of the same
account, or an ``http(s)://`` URL. ``check`` validates one when it is configured, so a
target in another tenant is a 400 before anything is stored. ``deliver`` runs inside the
transaction that ends the invocation: the queue message or the next invocation commits
with it, and a webhook delivery is owed through the outbox; so each record lands once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from lambent.errors import InvalidParameter, NotFound, UserError
from lambent.functions import selectors as function_selectors
from lambent.functions.arns import parse_function_reference
from lambent.functions.models import Function
from lambent.iam.models import Tenant
from lambent.invocations import asynchronous, outbox, webhooks
from lambent.invocations.models import WebhookDelivery
from lambent.queues import selectors as queue_selectors
from lambent.queues import services as queue_services

logger = logging.getLogger(__name__)

#: Invocations one chain of function destinations may make, as Lambda's recursive loop detection
#: (which stops a loop after about 16): the next one ends without running,
#: ``RecursiveInvocationException``, and its records go only to queues and webhooks.
RECURSION_LIMIT = 16
RECURSIVE_INVOCATION = "RecursiveInvocationException"


def _kind(target: str) -> str:
    if target.startswith(("http://", "https://")):
        return "webhook"
    if target.startswith("arn:") and target.split(":")[2:3] == ["sqs"]:
        return "queue"
    return "function"


def check(*, tenant: Tenant, target: str, field: str) -> str:
    """``target`` if it names a destination this tenant may send to; otherwise a 400 that says why."""
    kind = _kind(target)
    if kind == "webhook":
        try:
            webhooks.check_url(target)
        except webhooks.WebhookRefused as exc:
            raise InvalidParameter.field(field, str(exc)) from None
        return target
    try:
        if kind == "queue":
            queue_selectors.queue_for_arn(tenant=tenant, arn=target)
        else:
            _function_target(tenant=tenant, target=target, field=field)
    except NotFound as exc:
        raise InvalidParameter.field(field, f"The destination {target} is not a {kind} of this account: {exc}") \
            from None
    return target


def _function_target(*, tenant: Tenant, target: str, field: str) -> tuple[Function, str | None]:
    reference = parse_function_reference(target, field=field)
    if not target.startswith("arn:"):
        raise InvalidParameter.field(field, f"A function destination is a function ARN, not {target!r}.")
    if reference.account_id != tenant.account_id:
        raise NotFound(f"Function not found: {target}")
    primary, _, _ = function_selectors.qualifier_routing(tenant=tenant, function_name=reference.name,
                                                         qualifier=reference.qualifier)
    return primary.function, reference.qualifier


def deliver(*, tenant: Tenant, target: str, body: bytes, attributes: Mapping[str, str], chain_depth: int) -> None:
    """Send a record to ``target`` in the caller's transaction. A target deleted since it was
    configured drops the record, as Lambda does, with a warning in the log. ``chain_depth`` is
    that of the invocation the record is about: a function destination invoked from a chain
    already ``RECURSION_LIMIT`` deep is not invoked (the loop's last invocation was stopped)."""
    kind = _kind(target)
    try:
        if kind == "webhook":
            delivery = WebhookDelivery.objects.create(tenant=tenant, url=target, body=body,
                                                      headers={f"X-Lambent-{k}": v for k, v in attributes.items()})
            outbox.add(task=outbox.DELIVER_WEBHOOK, key=str(delivery.delivery_id), due_at=timezone.now())
        elif kind == "queue":
            queue = queue_selectors.queue_for_arn(tenant=tenant, arn=target)
            queue_services.message_send(tenant=tenant, queue=queue, body=body.decode(), attributes=dict(attributes))
        else:
            function, qualifier = _function_target(tenant=tenant, target=target, field="destination")
            if chain_depth >= RECURSION_LIMIT:
                logger.warning("a record for %s was dropped: it would continue a recursive loop stopped after "
                               "%d invocations", target, RECURSION_LIMIT)
                return
            asynchronous.enqueue(tenant=tenant, function=function, qualifier=qualifier, payload=body,
                                 chain_depth=chain_depth + 1)
    except UserError as exc:  # gone, or refused (too large): the invocation's end stands
        logger.warning("a record for %s was dropped: %s", target, exc)


def webhook_deliver(*, delivery_id: str) -> None:
    """POST one owed record; on failure try again later with a doubling wait, up to
    ``WEBHOOK_MAX_ATTEMPTS``. Receivers dedupe on ``X-Lambent-Delivery-Id``."""
    delivery = WebhookDelivery.objects.filter(delivery_id=uuid.UUID(delivery_id), delivered_at=None,
                                              abandoned_at=None).first()
    if delivery is None:
        outbox.done(task=outbox.DELIVER_WEBHOOK, key=delivery_id)
        return
    error = _post(delivery)
    with transaction.atomic():
        delivery.attempts += 1
        delivery.last_error = error or ""
        if error is None:
            delivery.delivered_at = timezone.now()
        elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            delivery.abandoned_at = timezone.now()
            logger.warning("webhook delivery %s to %s abandoned: %s", delivery_id, delivery.url, error)
        delivery.save(update_fields=["attempts", "last_error", "delivered_at", "abandoned_at"])
        if delivery.delivered_at or delivery.abandoned_at:
            outbox.done(task=outbox.DELIVER_WEBHOOK, key=delivery_id)
        else:
            wait = min(2.0 ** delivery.attempts, 300.0)
            outbox.reschedule(task=outbox.DELIVER_WEBHOOK, key=delivery_id,
                              due_at=timezone.now() + timedelta(seconds=wait))


def _post(delivery: WebhookDelivery) -> str | None:
    """None when the receiver accepted the record (2xx), else what went wrong."""
    headers = {"Content-Type": "application/json", "User-Agent": "Lambent",
               "X-Lambent-Delivery-Id": str(delivery.delivery_id), **delivery.headers}
    return webhooks.post(delivery.url, body=bytes(delivery.body), headers=headers,
                         timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
