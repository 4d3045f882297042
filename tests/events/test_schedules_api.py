"""The native API of schedules: CRUD, pages, validation in Scheduler's words, groups, firings,
tenant isolation and the OpenAPI schema."""

from __future__ import annotations

import json

import pytest

from lambent.events import firing, services
from tests.conftest import client_for
from tests.invocations.async_helpers import create, queue_arn

pytestmark = pytest.mark.django_db

NIGHTLY = {"name": "nightly", "schedule_expression": "cron(0 3 * * ? *)", "target_arn": "echo",
           "timezone": "Europe/Berlin", "input": '{"job": "report"}'}


def post(api, body):
    return api.post("/api/v1/schedules", body, format="json")


def test_create_get_replace_patch_and_delete(api, tenant, clock):
    created = post(api, NIGHTLY)
    assert created.status_code == 201, created.content
    shown = created.json()
    assert shown["arn"] == f"arn:aws:scheduler:us-east-1:{tenant.tenant.account_id}:schedule/default/nightly"
    assert (shown["group"], shown["state"], shown["window_mode"], shown["maximum_retry_attempts"],
            shown["maximum_event_age_seconds"], shown["action_after_completion"]) == (
        "default", "ENABLED", "OFF", 185, 86400, "NONE")
    assert shown["next_fire_at"] == "2030-01-08T02:00:00Z"  # 03:00 in Berlin
    assert api.get("/api/v1/schedules/nightly").json() == shown

    replaced = api.put("/api/v1/schedules/nightly", {"schedule_expression": "rate(5 minutes)", "target_arn": "echo"},
                       format="json")
    assert replaced.status_code == 200, replaced.content
    assert (replaced.json()["timezone"], replaced.json()["input"]) == ("UTC", "")  # a PUT is the whole schedule
    assert replaced.json()["next_fire_at"] == "2030-01-07T09:00:30Z"

    patched = api.patch("/api/v1/schedules/nightly", {"state": "DISABLED", "description": "paused"}, format="json")
    assert patched.status_code == 200, patched.content
    assert (patched.json()["schedule_expression"], patched.json()["state"], patched.json()["next_fire_at"]) == (
        "rate(5 minutes)", "DISABLED", None)

    assert api.delete("/api/v1/schedules/nightly").status_code == 204
    assert api.get("/api/v1/schedules/nightly").status_code == 404


def test_a_second_schedule_of_the_same_name_is_a_conflict(api):
    assert post(api, NIGHTLY).status_code == 201
    again = post(api, NIGHTLY)
    assert again.status_code == 409
    assert again.json()["message"] == "Schedule nightly already exists."


def test_the_list_is_paginated(api):
    for number in range(3):
        assert post(api, {**NIGHTLY, "name": f"s{number}"}).status_code == 201
    first = api.get("/api/v1/schedules?page_size=2").json()
    assert [s["name"] for s in first["results"]] == ["s0", "s1"]
    second = api.get(first["next"]).json()
    assert [s["name"] for s in second["results"]] == ["s2"] and second["next"] is None


def test_schedules_live_in_groups(api, tenant):
    missing = post(api, {**NIGHTLY, "group": "ops"})
    assert missing.status_code == 404 and missing.json()["message"] == "Schedule group ops does not exist."
    services.group_create(tenant=tenant.tenant, name="ops")
    assert post(api, {**NIGHTLY, "group": "ops"}).status_code == 201
    assert post(api, NIGHTLY).status_code == 201  # the same name in another group
    assert api.get("/api/v1/schedules/nightly?group=ops").json()["arn"].endswith(":schedule/ops/nightly")
    assert [s["group"] for s in api.get("/api/v1/schedules?group=ops").json()["results"]] == ["ops"]
    assert len(api.get("/api/v1/schedules").json()["results"]) == 2
    assert api.delete("/api/v1/schedules/nightly?group=ops").status_code == 204
    assert api.get("/api/v1/schedules/nightly").status_code == 200


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"schedule_expression": "cron(0 3 * * * *)"}, "schedule_expression",
     "Invalid Schedule Expression cron(0 3 * * * *): one of day-of-month and day-of-week must be '?'"),
    ({"schedule_expression": "rate(1 minutes)"}, "schedule_expression", "Invalid Schedule Expression rate(1 minutes)"),
    ({"timezone": "Moon/Base"}, "timezone", '"Moon/Base" is not a valid choice.'),
    ({"window_mode": "FLEXIBLE"}, "window_minutes", "MaximumWindowInMinutes is required"),
    ({"window_minutes": 5}, "window_minutes", "only for a flexible time window"),
    ({"start_date": "2030-02-01T00:00:00Z", "end_date": "2030-01-01T00:00:00Z"}, "end_date",
     "The EndDate must be after the StartDate."),
    ({"target_arn": "arn:aws:lambda:us-east-1:000000000000:function:echo"}, "target_arn", "of this account"),
    ({"target_arn": "not a function"}, "target_arn", "a function's name or ARN."),
    ({"target_arn": "arn:aws:lambda:eu-west-1:000000000000:function:echo"}, "target_arn", "Invalid target ARN"),
    ({"schedule_expression": "cron(0 3 * * ?)"}, "schedule_expression", "at(), rate() or cron() with six fields."),
    ({"input": "{not json"}, "input", "Invalid Input"),
    ({"dead_letter_arn": "arn:aws:sqs:us-east-1:000000000000:elsewhere"}, "dead_letter_arn",
     "Invalid DeadLetterConfig Arn"),
])
def test_what_scheduler_refuses_is_a_validation_exception(api, change, field, message):
    refused = post(api, {**NIGHTLY, **change})
    assert refused.status_code == 400, refused.content
    body = refused.json()
    assert body["type"] == "ValidationException"
    assert message in body["fields"][field][0], body
    assert api.get("/api/v1/schedules/nightly").status_code == 404


def test_firings_show_what_each_instant_became(api, clock, settings):
    settings.SCHEDULE_GRACE_SECONDS = 60
    create(api, "echo")
    assert post(api, {**NIGHTLY, "schedule_expression": "rate(1 minute)", "timezone": "UTC"}).status_code == 201
    firing.tick()
    clock.advance(180)  # two instants pass unseen; the second is 60 s late, still inside the grace
    firing.tick()
    listed = api.get("/api/v1/schedules/nightly/firings").json()["results"]
    assert [(f["scheduled_at"], f["status"]) for f in listed] == [
        ("2030-01-07T09:03:30Z", "fired"), ("2030-01-07T09:02:30Z", "fired"), ("2030-01-07T09:01:30Z", "missed"),
        ("2030-01-07T09:00:30Z", "fired")]
    request_id = listed[0]["request_id"]
    invocation = api.get(f"/api/v1/invocations/{request_id}").json()
    assert (invocation["function_name"], invocation["invocation_type"]) == ("echo", "Event")
    assert listed[2]["request_id"] is None


def test_another_tenant_sees_none_of_them(api, make_tenant, clock):
    create(api, "echo")
    assert post(api, {**NIGHTLY, "dead_letter_arn": queue_arn(api, "dlq")}).status_code == 201
    intruder = client_for(make_tenant("intruder"))
    for path in ("/api/v1/schedules/nightly", "/api/v1/schedules/nightly/firings"):
        answer = intruder.get(path)
        assert answer.status_code == 404 and answer.json()["message"] == "Schedule nightly does not exist."
    assert intruder.get("/api/v1/schedules").json()["results"] == []
    refused = intruder.post("/api/v1/schedules", {**NIGHTLY, "dead_letter_arn": queue_arn(api, "dlq2")},
                            format="json")
    assert refused.status_code == 400 and refused.json()["type"] == "ValidationException"


def test_the_schema_states_the_schedules_api(client):
    schema = json.loads(client.get("/api/v1/schema?format=json").content)
    assert {"get", "post"} <= set(schema["paths"]["/api/v1/schedules"])
    assert {"get", "put", "patch", "delete"} <= set(schema["paths"]["/api/v1/schedules/{name}"])
    firings = schema["paths"]["/api/v1/schedules/{name}/firings"]["get"]
    path = next(p for p in firings["parameters"] if p["in"] == "path")
    assert path["schema"]["pattern"] == "^[0-9a-zA-Z._-]{1,64}$"
    assert {p["name"] for p in firings["parameters"]} >= {"group", "cursor", "page_size"}
    request = schema["components"]["schemas"]["ScheduleCreateRequest"]
    assert request["additionalProperties"] is False
    assert (request["properties"]["maximum_retry_attempts"]["minimum"],
            request["properties"]["maximum_retry_attempts"]["maximum"]) == (0, 185)


@pytest.mark.parametrize("group", ["", "a b", "x" * 65])
def test_a_group_parameter_that_names_no_group_is_refused(api, group):
    assert post(api, NIGHTLY).status_code == 201
    for method, path in (("get", "/api/v1/schedules"), ("get", "/api/v1/schedules/nightly"),
                         ("delete", "/api/v1/schedules/nightly"), ("get", "/api/v1/schedules/nightly/firings")):
        answer = getattr(api, method)(path, {"group": group}) if method == "get" else api.delete(
            f"{path}?group={group}")
        assert answer.status_code == 400, (method, path, answer.content)
        assert answer.json()["type"] == "ValidationException"
    assert api.get("/api/v1/schedules/nightly").status_code == 200


def test_patching_the_window_off_drops_its_minutes(api):
    assert post(api, {**NIGHTLY, "window_mode": "FLEXIBLE", "window_minutes": 30}).status_code == 201
    patched = api.patch("/api/v1/schedules/nightly", {"window_mode": "OFF"}, format="json")
    assert patched.status_code == 200, patched.content
    assert (patched.json()["window_mode"], patched.json()["window_minutes"]) == ("OFF", None)
    refused = api.patch("/api/v1/schedules/nightly", {"window_minutes": 10}, format="json")
    assert refused.status_code == 400 and "only for a flexible time window" in refused.json()["message"]
