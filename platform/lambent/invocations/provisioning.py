"""Provisioned concurrency, the control plane's side: the executor made to hold what the configs ask.

``reconcile()`` reads every ``ProvisionedConcurrencyConfig`` (of all tenants: it acts for the
platform), resolves each qualifier to versions, and hands the executor the complete desired
set (``Executor.provision``). A version's config provisions that version. An alias's config
provisions the version it points to and, when the alias routes a weighted share of its
traffic to another version, that version too, in proportion, as Lambda spreads an alias's
provisioned concurrency: ``round(requested * weight)`` sandboxes of the additional version,
the rest of the main one. Configs that land on one version add up (two aliases on it).

Each config's ``allocated`` and ``status`` then follow what the executor reports, the ready
sandboxes of a version counted towards its configs in order: ``READY`` once all are there,
``IN_PROGRESS`` while fewer, ``FAILED`` when the function's init failed or the qualifier no
longer resolves (the alias or version was deleted, the alias moved to ``$LATEST``). A failed
config is left out of the desired set, so its sandboxes are released, until its owner puts
it again. An unreachable executor changes nothing: the next reconcile tries again.

It runs from beat every ``PROVISIONING_INTERVAL_SECONDS`` and right after a put or a delete.
Each reconcile states the whole set as it read it, so a late or repeated one is corrected by
the next; an alias moved to another version is provisioned there, and released from the old
one, at the next. Writes are fenced by ``last_modified``: a config changed meanwhile by its
owner keeps its new state until the next reconcile.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import TypeVar

from django.conf import settings

from lambent.errors import NotFound
from lambent.functions import services as function_services
from lambent.functions.models import ProvisionedConcurrencyConfig
from lambent.invocations import services
from worker import executors

logger = logging.getLogger(__name__)

#: The Celery task (``worker.tasks``) that runs ``reconcile``.
RECONCILE = function_services.RECONCILE_PROVISIONED
Status = ProvisionedConcurrencyConfig.Status
T = TypeVar("T")


@dataclass(frozen=True)
class Share:
    """The part of a config that one version's sandboxes hold."""

    spec: executors.FunctionSpec
    count: int


@dataclass
class Plan:
    config: ProvisionedConcurrencyConfig
    shares: list[Share] = field(default_factory=list)
    problem: str | None = None


def reconcile() -> dict[str, int]:
    """Bring the executor in line with the configs, and the configs with the executor; how many
    configs are in each status (``unreachable`` when the executor could not be asked)."""
    plans = [plan(config) for config in ProvisionedConcurrencyConfig.objects.exclude(status=Status.FAILED)
             .select_related("function__tenant").order_by("pk")]
    desired = [executors.Provision(spec=share.spec, count=share.count) for each in plans for share in each.shares]
    try:
        reported = executors.run_blocking(
            executors.executor().provision(desired, wait=settings.PROVISIONING_WAIT_SECONDS))
    except executors.ExecutorPlatformError as exc:
        logger.warning("provisioned concurrency not reconciled: %s", exc)
        return {"unreachable": len(plans)}
    ready = {key: state.ready for key, state in reported.items()}
    return dict(Counter(record(each, reported=reported, ready=ready) for each in plans))


def plan(config: ProvisionedConcurrencyConfig) -> Plan:
    """What ``config`` asks of which versions, or why it cannot be had."""
    function = config.function
    try:
        route = services.routing(tenant=function.tenant, function_name=function.name, qualifier=config.qualifier)
    except NotFound:
        return Plan(config, problem=f"{function.name}:{config.qualifier} no longer names a version or an alias.")
    if route.primary.version.is_latest:
        return Plan(config, problem=function_services.UNPUBLISHED)
    extra = round(config.requested * route.weight) if route.additional is not None else 0
    shares = [Share(route.primary.spec, config.requested - extra)]
    if route.additional is not None and extra:
        shares.append(Share(route.additional.spec, extra))
    return Plan(config, shares=[share for share in shares if share.count])


def record(plan: Plan, *, reported: dict[str, executors.Provisioned], ready: dict[str, int]) -> str:
    """Write the config's state as the executor reported it (``ready`` is used up as it is counted)."""
    allocated, failure = 0, plan.problem
    for share in plan.shares:
        taken = min(share.count, ready.get(share.spec.key, 0))
        ready[share.spec.key] = ready.get(share.spec.key, 0) - taken
        allocated += taken
        state = reported.get(share.spec.key)
        if state is not None and state.failure and failure is None:
            failure = f"The function's init failed: {state.failure}"
    if failure is not None:
        status = Status.FAILED
    else:
        status = Status.READY if allocated >= plan.config.requested else Status.IN_PROGRESS
    _save(plan.config, allocated=allocated, status=status, reason=failure or "")
    return str(status)


def _save(config: ProvisionedConcurrencyConfig, *, allocated: int, status: str, reason: str) -> None:
    if (config.allocated, config.status, config.status_reason) == (allocated, status, reason):
        return
    ProvisionedConcurrencyConfig.objects.filter(pk=config.pk, last_modified=config.last_modified).update(
        allocated=allocated, status=status, status_reason=reason[:1024])


