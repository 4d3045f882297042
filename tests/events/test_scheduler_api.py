"""EventBridge Scheduler's API with boto3's own ``scheduler`` client against a real ``lambent api``:
every schedule and schedule-group operation, Scheduler's errors, signatures, tenant isolation,
and the Lambda API beside it on the same server."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from datetime import UTC, datetime
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.exceptions import ClientError

from lambent.events.models import Schedule
from tests.conftest import client_for
from tests.events.conftest import scheduler_client
from tests.invocations.async_helpers import create, queue_arn
from tests.test_readme import assert_shows, blocks

pytestmark = pytest.mark.django_db(transaction=True)

ROLE = "arn:aws:iam::123456789012:role/scheduler"


def target(arn: str, **extra):
    return {"Arn": arn, "RoleArn": ROLE, **extra}


def error(call, *args, **kwargs) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    answer = raised.value.response
    return answer["ResponseMetadata"]["HTTPStatusCode"], answer["Error"]["Code"], answer["Error"]["Message"]


def test_a_schedule_round_trips_every_member(scheduler, api, tenant):
    function = create(api, "echo")
    dlq = queue_arn(api, "dlq")
    account = tenant.tenant.account_id
    start, end = datetime(2030, 1, 1, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC)
    created = scheduler.create_schedule(
        Name="nightly", ScheduleExpression="cron(0 3 ? * MON-FRI *)", ScheduleExpressionTimezone="Europe/Berlin",
        StartDate=start, EndDate=end, Description="the nightly report", State="ENABLED",
        FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15},
        Target=target(function["arn"], Input='{"job": "report"}', DeadLetterConfig={"Arn": dlq},
                      RetryPolicy={"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 600}),
        ActionAfterCompletion="NONE")
    arn = f"arn:aws:scheduler:us-east-1:{account}:schedule/default/nightly"
    assert created["ScheduleArn"] == arn
    got = scheduler.get_schedule(Name="nightly")
    assert (got["Arn"], got["Name"], got["GroupName"], got["ScheduleExpression"], got["ScheduleExpressionTimezone"],
            got["Description"], got["State"], got["ActionAfterCompletion"]) == (
        arn, "nightly", "default", "cron(0 3 ? * MON-FRI *)", "Europe/Berlin", "the nightly report", "ENABLED",
        "NONE")
    assert (got["StartDate"], got["EndDate"]) == (start, end)
    assert got["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15}
    assert got["Target"] == target(function["arn"], Input='{"job": "report"}', DeadLetterConfig={"Arn": dlq},
                                   RetryPolicy={"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 600})
    assert isinstance(got["CreationDate"], datetime) and isinstance(got["LastModificationDate"], datetime)
    stored = Schedule.objects.get(name="nightly")
    assert (stored.function_name, stored.qualifier, stored.next_fire_at) == (
        "echo", "", datetime(2030, 1, 1, 2, tzinfo=UTC))  # a Tuesday, 03:00 in Berlin


def test_update_replaces_the_schedule_and_delete_removes_it(scheduler, api):
    create(api, "echo")
    scheduler.create_schedule(Name="s", ScheduleExpression="rate(5 minutes)", FlexibleTimeWindow={"Mode": "OFF"},
                              Target=target("echo", Input='{"a": 1}'))
    updated = scheduler.update_schedule(Name="s", ScheduleExpression="at(2030-06-01T12:00:00)", State="DISABLED",
                                        FlexibleTimeWindow={"Mode": "OFF"}, Target=target("echo:$LATEST"),
                                        ActionAfterCompletion="DELETE")
    assert updated["ScheduleArn"].endswith(":schedule/default/s")
    got = scheduler.get_schedule(Name="s")
    assert (got["ScheduleExpression"], got["State"], got["ActionAfterCompletion"]) == (
        "at(2030-06-01T12:00:00)", "DISABLED", "DELETE")
    assert "Input" not in got["Target"] and got["Target"]["Arn"] == "echo:$LATEST"
    assert got["Target"]["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    assert scheduler.delete_schedule(Name="s")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert error(scheduler.get_schedule, Name="s") == (404, "ResourceNotFoundException", "Schedule s does not exist.")
    assert error(scheduler.delete_schedule, Name="s")[1] == "ResourceNotFoundException"
    assert error(scheduler.update_schedule, Name="s", ScheduleExpression="rate(1 day)",
                 FlexibleTimeWindow={"Mode": "OFF"}, Target=target("echo"))[1] == "ResourceNotFoundException"


def test_list_schedules_filters_and_pages(scheduler):
    scheduler.create_schedule_group(Name="ops")
    for name, group, state in (("a-1", None, "ENABLED"), ("a-2", "ops", "DISABLED"), ("b-1", None, "DISABLED"),
                               ("a-3", None, "ENABLED")):
        scheduler.create_schedule(Name=name, ScheduleExpression="rate(1 hour)", FlexibleTimeWindow={"Mode": "OFF"},
                                  Target=target("echo"), State=state, **({"GroupName": group} if group else {}))
    everything = [s for page in scheduler.get_paginator("list_schedules").paginate(PaginationConfig={"PageSize": 1})
                  for s in page["Schedules"]]
    assert [(s["Name"], s["GroupName"], s["State"]) for s in everything] == [
        ("a-1", "default", "ENABLED"), ("a-2", "ops", "DISABLED"), ("b-1", "default", "DISABLED"),
        ("a-3", "default", "ENABLED")]
    assert everything[0]["Target"] == {"Arn": "echo"} and everything[0]["Arn"].endswith(":schedule/default/a-1")
    first = scheduler.list_schedules(MaxResults=2)
    assert len(first["Schedules"]) == 2 and "NextToken" in first
    assert [s["Name"] for s in scheduler.list_schedules(NamePrefix="a-")["Schedules"]] == ["a-1", "a-2", "a-3"]
    assert [s["Name"] for s in scheduler.list_schedules(State="DISABLED")["Schedules"]] == ["a-2", "b-1"]
    assert [s["Name"] for s in scheduler.list_schedules(GroupName="ops")["Schedules"]] == ["a-2"]
    assert error(scheduler.list_schedules, GroupName="nope")[1] == "ResourceNotFoundException"
    assert error(scheduler.list_schedules, NextToken="garbage!")[1] == "ValidationException"


def test_schedule_groups(scheduler, tenant):
    account = tenant.tenant.account_id
    created = scheduler.create_schedule_group(Name="ops", Tags=[{"Key": "team", "Value": "sre"}])
    assert created["ScheduleGroupArn"] == f"arn:aws:scheduler:us-east-1:{account}:schedule-group/ops"
    got = scheduler.get_schedule_group(Name="ops")
    assert (got["Name"], got["State"], got["Arn"]) == ("ops", "ACTIVE", created["ScheduleGroupArn"])
    assert scheduler.get_schedule_group(Name="default")["Arn"].endswith(":schedule-group/default")
    assert [g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"]] == ["default", "ops"]
    assert [g["Name"] for g in scheduler.list_schedule_groups(NamePrefix="o")["ScheduleGroups"]] == ["ops"]
    assert error(scheduler.create_schedule_group, Name="ops") == (
        409, "ConflictException", "Schedule group ops already exists.")
    scheduler.create_schedule(Name="in-ops", GroupName="ops", ScheduleExpression="rate(1 day)",
                              FlexibleTimeWindow={"Mode": "OFF"}, Target=target("echo"))
    assert scheduler.get_schedule(Name="in-ops", GroupName="ops")["GroupName"] == "ops"
    assert error(scheduler.get_schedule, Name="in-ops")[1] == "ResourceNotFoundException"  # not in default
    scheduler.delete_schedule_group(Name="ops")
    assert error(scheduler.get_schedule_group, Name="ops") == (
        404, "ResourceNotFoundException", "Schedule group ops does not exist.")
    assert not Schedule.objects.filter(name="in-ops").exists()  # a group is deleted with its schedules
    assert error(scheduler.delete_schedule_group, Name="default")[1] == "ValidationException"
    assert error(scheduler.delete_schedule_group, Name="ops")[1] == "ResourceNotFoundException"


@pytest.mark.parametrize(("changes", "message"), [
    ({"ScheduleExpression": "cron(0 3 * * * *)"}, "Invalid Schedule Expression cron(0 3 * * * *)"),
    ({"ScheduleExpression": "rate(1 minutes)"}, "singular for 1"),
    ({"ScheduleExpressionTimezone": "Nowhere/City"}, "Invalid time zone"),
    ({"FlexibleTimeWindow": {"Mode": "FLEXIBLE"}}, "MaximumWindowInMinutes is required"),
    ({"FlexibleTimeWindow": {"Mode": "SOMETIMES"}}, "window_mode must be one of OFF, FLEXIBLE"),
    ({"Target": target("echo", RetryPolicy={"MaximumRetryAttempts": 186})}, "from 0 to 185"),
    ({"Target": target("echo", RetryPolicy={"MaximumEventAgeInSeconds": 86401})}, "from 60 to 86400"),
    ({"Target": target("echo", SqsParameters={"MessageGroupId": "g"})}, "Target.SqsParameters is not supported"),
    ({"Target": target("arn:aws:lambda:us-east-1:000000000000:function:echo")}, "of this account"),
    ({"KmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k"}, "KmsKeyArn is not supported"),
    ({"State": "PAUSED"}, "state must be one of ENABLED, DISABLED"),
])
def test_what_scheduler_refuses_is_a_validation_exception(scheduler, changes, message):
    request = {"Name": "bad", "ScheduleExpression": "rate(1 hour)", "FlexibleTimeWindow": {"Mode": "OFF"},
               "Target": target("echo"), **changes}
    status, code, said = error(scheduler.create_schedule, **request)
    assert (status, code) == (400, "ValidationException")
    assert message in said
    assert error(scheduler.get_schedule, Name="bad")[1] == "ResourceNotFoundException"


def test_a_duplicate_is_a_conflict(scheduler):
    request = {"Name": "twice", "ScheduleExpression": "rate(1 hour)", "FlexibleTimeWindow": {"Mode": "OFF"},
               "Target": target("echo")}
    scheduler.create_schedule(**request)
    assert error(scheduler.create_schedule, **request) == (409, "ConflictException", "Schedule twice already exists.")


def test_another_tenant_gets_not_found_and_its_own_lists(scheduler, api_endpoint, make_tenant):
    scheduler.create_schedule(Name="mine", ScheduleExpression="rate(1 hour)", FlexibleTimeWindow={"Mode": "OFF"},
                              Target=target("echo"))
    scheduler.create_schedule_group(Name="private")
    intruder = scheduler_client(api_endpoint, make_tenant("intruder"))
    assert error(intruder.get_schedule, Name="mine")[:2] == (404, "ResourceNotFoundException")
    assert error(intruder.delete_schedule, Name="mine")[1] == "ResourceNotFoundException"
    assert error(intruder.get_schedule_group, Name="private")[1] == "ResourceNotFoundException"
    assert error(intruder.delete_schedule_group, Name="private")[1] == "ResourceNotFoundException"
    assert intruder.list_schedules()["Schedules"] == []
    assert [g["Name"] for g in intruder.list_schedule_groups()["ScheduleGroups"]] == ["default"]
    assert scheduler.get_schedule(Name="mine")["Name"] == "mine"


def test_a_request_signed_wrongly_or_for_another_service_is_refused(api_endpoint, tenant):
    client = scheduler_client(api_endpoint, tenant)
    wrong = client._request_signer._credentials.__class__(tenant.credentials.access_key_id, "not-the-secret")
    client._request_signer._credentials = wrong
    assert error(client.list_schedules)[:2] == (403, "InvalidSignatureException")
    lambda_signed = scheduler_client(api_endpoint, tenant)
    lambda_signed._request_signer._signing_name = "lambda"
    status, code, message = error(lambda_signed.list_schedules)
    assert (status, code) == (403, "InvalidSignatureException") and "'scheduler'" in message


def test_tags_are_not_supported(scheduler):
    status, code, message = error(scheduler.list_tags_for_resource,
                                  ResourceArn="arn:aws:scheduler:us-east-1:123456789012:schedule-group/default")
    assert (status, code) == (400, "ValidationException") and "ListTagsForResource" in message


def test_the_lambda_api_and_the_native_api_answer_beside_it(api_endpoint, tenant, scheduler):
    credentials = tenant.credentials
    lam = boto3.client("lambda", endpoint_url=api_endpoint, region_name="us-east-1",
                       aws_access_key_id=credentials.access_key_id,
                       aws_secret_access_key=credentials.secret_access_key)
    assert lam.list_functions()["Functions"] == []
    scheduler.create_schedule(Name="both", ScheduleExpression="rate(1 hour)", FlexibleTimeWindow={"Mode": "OFF"},
                              Target=target("echo"))
    native = client_for(tenant)
    assert native.get("/api/v1/schedules/both").json()["schedule_expression"] == "rate(1 hour)"


def test_the_readme_s_boto3_example_runs_as_written(api_endpoint, tenant):
    (example,) = blocks("Schedules", "python")
    credentials = tenant.credentials
    code = (example.replace("http://localhost:8000", api_endpoint)
            .replace("<access key id>", credentials.access_key_id)
            .replace("<secret>", credentials.secret_access_key).replace("<account id>", tenant.tenant.account_id))
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert_shows(ran.stdout, example)
    stored = Schedule.objects.get(name="every-5-minutes")
    assert (stored.function_name, stored.input, stored.maximum_retry_attempts) == ("hello", '{"source": "schedule"}', 1)


@pytest.mark.parametrize(("method", "path", "headers", "status", "name"), [
    ("GET", "/schedules", {}, 403, "MissingAuthenticationTokenException"),  # not signed at all
    ("GET", "/schedules/a%00b", {}, 400, "ValidationException"),  # refused before any view
    ("POST", "/schedules/big", {"Content-Length": str(10**9)}, 413, "ValidationException"),
    ("GET", "/schedule-groups/x/y", {}, 404, "ResourceNotFoundException"),  # no operation has this path
])
def test_refusals_answer_in_scheduler_s_shape(api_endpoint, method, path, headers, status, name):
    connection = http.client.HTTPConnection(urlsplit(api_endpoint).netloc, timeout=10)
    connection.putrequest(method, path)
    for header, value in headers.items():
        connection.putheader(header, value)
    connection.endheaders()
    answer = connection.getresponse()
    body = json.loads(answer.read())
    connection.close()
    assert (answer.status, answer.getheader("x-amzn-ErrorType")) == (status, name)
    assert set(body) == {"Message"} and answer.getheader("x-amzn-RequestId")
