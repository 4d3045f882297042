"""Scheduler's schedule and schedule-group operations, each a handler of a ``protocol.Call``.

``OPERATIONS`` lists them as botocore's model routes them: (name, method, path). Members that
name other AWS services' targets (ECS, Kinesis, SQS, EventBridge, SageMaker parameters) and
``KmsKeyArn`` are refused with a ``ValidationException``: a Lambent schedule invokes functions.
``ClientToken`` is accepted and not used (a retried create answers ``ConflictException``).
Tags are not kept: ``CreateScheduleGroup``'s ``Tags`` are accepted and dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpResponse

from lambent.events import selectors, services
from lambent.events.expressions import ScheduleInvalid
from lambent.events.models import Schedule, ScheduleGroup
from lambent.events.scheduler_api import protocol as p
from lambent.events.scheduler_api.protocol import Call, respond

_OTHER_TARGETS = ("EcsParameters", "EventBridgeParameters", "EventBridgePutEventsV2Parameters",
                  "EventBridgePutRawEventsParameters", "KinesisParameters", "SageMakerPipelineParameters",
                  "SqsParameters")


def _spec(body: dict[str, Any]) -> services.ScheduleSpec:
    if body.get("KmsKeyArn") is not None:
        raise ScheduleInvalid("KmsKeyArn is not supported: Lambent keeps schedules in its own database.",
                              field="KmsKeyArn")
    target = p.structure(body, "Target")
    if not target:
        raise ScheduleInvalid("1 validation error detected: Value null at 'target' failed to satisfy constraint: "
                              "Member must not be null", field="Target")
    for name in _OTHER_TARGETS:
        if target.get(name) is not None:
            raise ScheduleInvalid(f"Target.{name} is not supported: a Lambent schedule's target is a function.",
                                  field="Target")
    window = p.structure(body, "FlexibleTimeWindow")
    if not window:
        raise ScheduleInvalid("1 validation error detected: Value null at 'flexibleTimeWindow' failed to satisfy "
                              "constraint: Member must not be null", field="FlexibleTimeWindow")
    retry = p.structure(target, "RetryPolicy")
    defaults = services.ScheduleSpec(expression="", target_arn="", window_mode="")
    return services.ScheduleSpec(
        expression=p.required_text(body, "ScheduleExpression"),
        target_arn=p.required_text(target, "Arn"),
        window_mode=p.required_text(window, "Mode"),
        window_minutes=p.integer(window, "MaximumWindowInMinutes"),
        timezone=p.text(body, "ScheduleExpressionTimezone") or defaults.timezone,
        start_date=p.timestamp(body, "StartDate"), end_date=p.timestamp(body, "EndDate"),
        state=p.text(body, "State") or defaults.state, description=p.text(body, "Description") or "",
        input=p.text(target, "Input") or "", role_arn=p.text(target, "RoleArn") or "",
        maximum_retry_attempts=_or(p.integer(retry, "MaximumRetryAttempts"), defaults.maximum_retry_attempts),
        maximum_event_age_seconds=_or(p.integer(retry, "MaximumEventAgeInSeconds"),
                                      defaults.maximum_event_age_seconds),
        dead_letter_arn=p.text(p.structure(target, "DeadLetterConfig"), "Arn") or "",
        action_after_completion=p.text(body, "ActionAfterCompletion") or defaults.action_after_completion,
    )


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def _schedule(schedule: Schedule) -> dict[str, Any]:
    target: dict[str, Any] = {"Arn": schedule.target_arn, "RoleArn": schedule.role_arn, "RetryPolicy": {
        "MaximumRetryAttempts": schedule.maximum_retry_attempts,
        "MaximumEventAgeInSeconds": schedule.maximum_event_age_seconds}}
    if schedule.input:
        target["Input"] = schedule.input
    if schedule.dead_letter_arn:
        target["DeadLetterConfig"] = {"Arn": schedule.dead_letter_arn}
    window: dict[str, Any] = {"Mode": schedule.window_mode}
    if schedule.window_minutes is not None:
        window["MaximumWindowInMinutes"] = schedule.window_minutes
    shown = {"Arn": schedule.arn, "GroupName": schedule.group.name, "Name": schedule.name,
             "ScheduleExpression": schedule.expression, "ScheduleExpressionTimezone": schedule.timezone,
             "StartDate": p.epoch(schedule.start_date), "EndDate": p.epoch(schedule.end_date),
             "Description": schedule.description, "State": schedule.state,
             "CreationDate": p.epoch(schedule.created_at), "LastModificationDate": p.epoch(schedule.last_modified),
             "Target": target, "FlexibleTimeWindow": window, "ActionAfterCompletion": schedule.action_after_completion}
    return {name: value for name, value in shown.items() if value is not None}


def _summary(schedule: Schedule) -> dict[str, Any]:
    return {"Arn": schedule.arn, "Name": schedule.name, "GroupName": schedule.group.name, "State": schedule.state,
            "CreationDate": p.epoch(schedule.created_at), "LastModificationDate": p.epoch(schedule.last_modified),
            "Target": {"Arn": schedule.target_arn}}


def _group(group: ScheduleGroup) -> dict[str, Any]:
    return {"Arn": group.arn, "Name": group.name, "State": "ACTIVE", "CreationDate": p.epoch(group.created_at),
            "LastModificationDate": p.epoch(group.last_modified)}


def create_schedule(call: Call) -> HttpResponse:
    body = call.json()
    schedule = services.schedule_create(tenant=call.tenant, name=call.params["Name"], spec=_spec(body),
                                        group_name=p.text(body, "GroupName"))
    return respond({"ScheduleArn": schedule.arn}, request_id=call.request_id)


def update_schedule(call: Call) -> HttpResponse:
    body = call.json()
    schedule = services.schedule_update(tenant=call.tenant, name=call.params["Name"], spec=_spec(body),
                                        group_name=p.text(body, "GroupName"))
    return respond({"ScheduleArn": schedule.arn}, request_id=call.request_id)


def get_schedule(call: Call) -> HttpResponse:
    schedule = selectors.schedule_get(tenant=call.tenant, name=call.params["Name"],
                                      group_name=call.query.get("groupName"))
    return respond(_schedule(schedule), request_id=call.request_id)


def delete_schedule(call: Call) -> HttpResponse:
    services.schedule_delete(tenant=call.tenant, name=call.params["Name"], group_name=call.query.get("groupName"))
    return respond({}, request_id=call.request_id)


def list_schedules(call: Call) -> HttpResponse:
    state = call.query.get("State")
    if state is not None and state not in ("ENABLED", "DISABLED"):
        raise ScheduleInvalid("State must be ENABLED or DISABLED.", field="State")
    schedules = selectors.schedule_list(tenant=call.tenant, group_name=call.query.get("ScheduleGroup"),
                                        name_prefix=call.query.get("NamePrefix"), state=state).order_by("pk")
    found, token = p.page(schedules, call.query)
    body: dict[str, Any] = {"Schedules": [_summary(schedule) for schedule in found]}
    if token:
        body["NextToken"] = token
    return respond(body, request_id=call.request_id)


def create_schedule_group(call: Call) -> HttpResponse:
    group = services.group_create(tenant=call.tenant, name=call.params["Name"])
    return respond({"ScheduleGroupArn": group.arn}, request_id=call.request_id)


def get_schedule_group(call: Call) -> HttpResponse:
    return respond(_group(selectors.group_get(tenant=call.tenant, name=call.params["Name"])),
                   request_id=call.request_id)


def delete_schedule_group(call: Call) -> HttpResponse:
    services.group_delete(tenant=call.tenant, name=call.params["Name"])
    return respond({}, request_id=call.request_id)


def list_schedule_groups(call: Call) -> HttpResponse:
    groups = selectors.group_list(tenant=call.tenant, name_prefix=call.query.get("NamePrefix")).order_by("name")
    found, token = p.page(groups, call.query)
    body: dict[str, Any] = {"ScheduleGroups": [_group(group) for group in found]}
    if token:
        body["NextToken"] = token
    return respond(body, request_id=call.request_id)


OPERATIONS: tuple[tuple[str, str, str, Callable[[Call], HttpResponse]], ...] = (
    ("CreateSchedule", "POST", "/schedules/{Name}", create_schedule),
    ("GetSchedule", "GET", "/schedules/{Name}", get_schedule),
    ("UpdateSchedule", "PUT", "/schedules/{Name}", update_schedule),
    ("DeleteSchedule", "DELETE", "/schedules/{Name}", delete_schedule),
    ("ListSchedules", "GET", "/schedules", list_schedules),
    ("CreateScheduleGroup", "POST", "/schedule-groups/{Name}", create_schedule_group),
    ("GetScheduleGroup", "GET", "/schedule-groups/{Name}", get_schedule_group),
    ("DeleteScheduleGroup", "DELETE", "/schedule-groups/{Name}", delete_schedule_group),
    ("ListScheduleGroups", "GET", "/schedule-groups", list_schedule_groups),
)
