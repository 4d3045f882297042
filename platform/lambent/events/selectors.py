"""Tenant-scoped reads of schedules, groups and firings.

Every query starts from ``tenant=``: another tenant's schedule or group answers ``NotFound``,
as one that does not exist. The ``default`` group exists for every tenant: it is made the first
time it is asked for.
"""

from __future__ import annotations

from django.db.models import QuerySet

from lambent.errors import NotFound
from lambent.events.models import DEFAULT_GROUP, Firing, Schedule, ScheduleGroup
from lambent.iam.models import Tenant


def group_list(*, tenant: Tenant, name_prefix: str | None = None) -> QuerySet[ScheduleGroup]:
    group_get(tenant=tenant, name=DEFAULT_GROUP)
    groups = ScheduleGroup.objects.filter(tenant=tenant).select_related("tenant")
    return groups.filter(name__startswith=name_prefix) if name_prefix else groups


def group_get(*, tenant: Tenant, name: str) -> ScheduleGroup:
    if name == DEFAULT_GROUP:
        group, _ = ScheduleGroup.objects.select_related("tenant").get_or_create(tenant=tenant, name=DEFAULT_GROUP)
        return group
    try:
        return ScheduleGroup.objects.select_related("tenant").get(tenant=tenant, name=name)
    except ScheduleGroup.DoesNotExist:
        raise NotFound(f"Schedule group {name} does not exist.") from None


def schedule_list(*, tenant: Tenant, group_name: str | None = None, name_prefix: str | None = None,
                  state: str | None = None) -> QuerySet[Schedule]:
    """The tenant's schedules, of one group when it is named (a group that does not exist: NotFound)."""
    schedules = Schedule.objects.filter(tenant=tenant).select_related("tenant", "group")
    if group_name:
        schedules = schedules.filter(group=group_get(tenant=tenant, name=group_name))
    if name_prefix:
        schedules = schedules.filter(name__startswith=name_prefix)
    if state:
        schedules = schedules.filter(state=state)
    return schedules


def schedule_get(*, tenant: Tenant, name: str, group_name: str | None = None, for_update: bool = False) -> Schedule:
    group = group_name or DEFAULT_GROUP
    schedules = Schedule.objects.filter(tenant=tenant, group__name=group).select_related("tenant", "group")
    if for_update:
        schedules = schedules.select_for_update(of=("self",))
    try:
        return schedules.get(name=name)
    except Schedule.DoesNotExist:
        raise NotFound(f"Schedule {name} does not exist.") from None


def firing_list(*, tenant: Tenant, name: str, group_name: str | None = None) -> QuerySet[Firing]:
    """The firings of one schedule, the latest first."""
    return Firing.objects.filter(schedule=schedule_get(tenant=tenant, name=name, group_name=group_name))
