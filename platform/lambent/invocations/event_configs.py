"""The asynchronous configuration of functions: event invoke configs and dead-letter targets.

An event invoke config belongs to one qualifier of a function (``$LATEST``, a version or
an alias; an unqualified invocation uses ``$LATEST``'s) and says how many times a failed
event is retried (0-2), how old an event may grow before it is dropped (60-21600 s), and
where success and failure records go. A function without one behaves as Lambda's
defaults. The dead-letter target is per function and receives the failed event itself.
Destinations are checked (``destinations.check``) before anything is stored.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet

from lambent.errors import InvalidParameter, NotFound
from lambent.functions import selectors as function_selectors
from lambent.functions.models import LATEST, Function
from lambent.iam.models import Tenant
from lambent.invocations import destinations
from lambent.invocations.models import DeadLetterConfig, EventInvokeConfig

RETRY_ATTEMPTS_RANGE = (0, 2)
EVENT_AGE_RANGE = (60, 21600)


@dataclass(frozen=True)
class EventInvokeChanges:
    """What a put or an update sets; ``None`` leaves a field as it is (an update) or at its
    default (a put). An empty destination removes it."""

    maximum_retry_attempts: int | None = None
    maximum_event_age_seconds: int | None = None
    on_success: str | None = None
    on_failure: str | None = None


def config_qualifier(qualifier: str | None) -> str:
    return qualifier or LATEST


def event_invoke_config_list(*, tenant: Tenant, function_name: str) -> QuerySet[EventInvokeConfig]:
    function = function_selectors.function_get(tenant=tenant, name=function_name)
    return EventInvokeConfig.objects.filter(function=function).select_related("function__tenant")


def event_invoke_config_get(*, tenant: Tenant, function_name: str, qualifier: str | None) -> EventInvokeConfig:
    function = function_selectors.function_get(tenant=tenant, name=function_name)
    try:
        return EventInvokeConfig.objects.select_related("function__tenant").get(
            function=function, qualifier=config_qualifier(qualifier))
    except EventInvokeConfig.DoesNotExist:
        raise NotFound(f"The function {function.arn}:{config_qualifier(qualifier)} doesn't have an "
                       "EventInvokeConfig") from None


def event_invoke_config_put(*, tenant: Tenant, function_name: str, qualifier: str | None,
                            changes: EventInvokeChanges, replace: bool) -> EventInvokeConfig:
    """Set the config of a qualifier: ``replace`` resets what ``changes`` leaves out (PUT);
    otherwise only the given fields change (PATCH), and the config must exist."""
    function = function_selectors.function_get(tenant=tenant, name=function_name)
    qualifier = config_qualifier(qualifier)
    function_selectors.qualifier_routing(tenant=tenant, function_name=function_name, qualifier=qualifier)
    _check(tenant=tenant, changes=changes)
    with transaction.atomic():
        config = EventInvokeConfig.objects.select_for_update().filter(function=function, qualifier=qualifier).first()
        if config is None and not replace:
            raise NotFound(f"The function {function.arn}:{qualifier} doesn't have an EventInvokeConfig")
        if config is None or replace:
            config = EventInvokeConfig(pk=config.pk if config else None, function=function, qualifier=qualifier)
        for name, value in changes.__dict__.items():
            if value is not None:
                setattr(config, name, value)
        config.save()
    return config


def event_invoke_config_delete(*, tenant: Tenant, function_name: str, qualifier: str | None) -> None:
    event_invoke_config_get(tenant=tenant, function_name=function_name, qualifier=qualifier).delete()


def _check(*, tenant: Tenant, changes: EventInvokeChanges) -> None:
    problems: dict[str, list[str]] = {}
    for name, value, (low, high) in (("maximum_retry_attempts", changes.maximum_retry_attempts, RETRY_ATTEMPTS_RANGE),
                                      ("maximum_event_age_seconds", changes.maximum_event_age_seconds,
                                       EVENT_AGE_RANGE)):
        if value is not None and not low <= value <= high:
            problems[name] = [f"Must be between {low} and {high}."]
    for name, target in (("on_success", changes.on_success), ("on_failure", changes.on_failure)):
        if target:
            try:
                destinations.check(tenant=tenant, target=target, field=name)
            except InvalidParameter as exc:
                problems.update(exc.fields or {name: [str(exc)]})
    if problems:
        raise InvalidParameter(fields=problems)


def dead_letter_target(*, function: Function) -> str:
    found = DeadLetterConfig.objects.filter(function=function).first()
    return found.target if found else ""


def dead_letter_targets(*, function_ids: set[int]) -> dict[int, str]:
    """The dead-letter targets of these functions (by primary key), for those that have one."""
    return dict(DeadLetterConfig.objects.filter(function_id__in=function_ids).values_list("function_id", "target"))


def dead_letter_config_get(*, tenant: Tenant, function_name: str) -> DeadLetterConfig:
    function = function_selectors.function_get(tenant=tenant, name=function_name)
    try:
        return DeadLetterConfig.objects.select_related("function__tenant").get(function=function)
    except DeadLetterConfig.DoesNotExist:
        raise NotFound(f"The function {function.arn} has no dead-letter target") from None


def dead_letter_config_put(*, tenant: Tenant, function_name: str, target: str) -> DeadLetterConfig:
    function = function_selectors.function_get(tenant=tenant, name=function_name)
    destinations.check(tenant=tenant, target=target, field="target")
    config, _ = DeadLetterConfig.objects.update_or_create(function=function, defaults={"target": target})
    return config


def dead_letter_config_delete(*, tenant: Tenant, function_name: str) -> None:
    dead_letter_config_get(tenant=tenant, function_name=function_name).delete()


def dead_letter_config_remove(*, tenant: Tenant, function_name: str) -> None:
    """No dead-letter target, whether the function had one or not."""
    function = function_selectors.function_get(tenant=tenant, name=function_name)
    DeadLetterConfig.objects.filter(function=function).delete()

