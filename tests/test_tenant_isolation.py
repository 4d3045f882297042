"""One tenant never sees or touches another's resources: every endpoint answers 404.

The table covers every route of the native API; a route added without a row here
fails ``test_every_route_is_covered``.
"""

import pytest
from django.urls import URLResolver, get_resolver

from lambent.events.models import Firing, Schedule, ScheduleGroup
from lambent.functions.models import Alias, Function, ProvisionedConcurrencyConfig, Version
from lambent.iam import services as iam_services
from lambent.iam.models import Group, GroupMembership, Policy, PolicyAttachment
from lambent.invocations.models import DeadLetterConfig, EventInvokeConfig, Invocation, OutboxMessage
from lambent.queues.models import Message, Queue
from lambent.quotas.models import ReservedConcurrency, TenantQuota
from tests.conftest import b64, client_for, function_body, make_zip

OTHER_ZIP = b64(make_zip({"app.py": "def handler(e, c):\n    return 'other'\n"}))

ATTEMPTS = [
    ("get", "/api/v1/functions/hello", None, "function"),
    ("patch", "/api/v1/functions/hello", {"memory_size": 2048}, "function"),
    ("delete", "/api/v1/functions/hello", None, "function"),
    ("put", "/api/v1/functions/hello/code", {"zip_file": OTHER_ZIP}, "function-code"),
    ("get", "/api/v1/functions/hello/versions", None, "versions"),
    ("post", "/api/v1/functions/hello/versions", {}, "versions"),
    ("get", "/api/v1/functions/hello/versions/1", None, "version"),
    ("delete", "/api/v1/functions/hello/versions/2", None, "version"),
    ("get", "/api/v1/functions/hello/aliases", None, "aliases"),
    ("post", "/api/v1/functions/hello/aliases", {"name": "mine", "function_version": "1"}, "aliases"),
    ("get", "/api/v1/functions/hello/aliases/live", None, "alias"),
    ("patch", "/api/v1/functions/hello/aliases/live", {"function_version": "2"}, "alias"),
    ("delete", "/api/v1/functions/hello/aliases/live", None, "alias"),
    ("post", "/api/v1/functions/hello/invoke", {"event": 1}, "invoke"),
    ("get", "/api/v1/functions/hello/invocations", None, "function-invocations"),
    ("get", "/api/v1/invocations/{request_id}", None, "invocation"),
    ("get", "/api/v1/invocations?function=hello", None, "invocations"),
    ("post", "/api/v1/invocations/{event_request_id}/cancel", None, "invocation-cancel"),
    ("post", "/api/v1/invocations/{event_request_id}/redrive", {}, "invocation-redrive"),
    ("get", "/api/v1/functions/hello/event-invoke-config", None, "event-invoke-config"),
    ("put", "/api/v1/functions/hello/event-invoke-config", {"maximum_retry_attempts": 0}, "event-invoke-config"),
    ("patch", "/api/v1/functions/hello/event-invoke-config", {"maximum_retry_attempts": 0}, "event-invoke-config"),
    ("delete", "/api/v1/functions/hello/event-invoke-config", None, "event-invoke-config"),
    ("get", "/api/v1/functions/hello/event-invoke-configs", None, "event-invoke-configs"),
    ("get", "/api/v1/functions/hello/dead-letter-config", None, "dead-letter-config"),
    ("put", "/api/v1/functions/hello/dead-letter-config", {"target": "https://example.com/"}, "dead-letter-config"),
    ("delete", "/api/v1/functions/hello/dead-letter-config", None, "dead-letter-config"),
    ("get", "/api/v1/functions/hello/provisioned-concurrency?qualifier=live", None, "provisioned-concurrency"),
    ("put", "/api/v1/functions/hello/provisioned-concurrency?qualifier=live", {"provisioned_concurrent_executions": 1},
     "provisioned-concurrency"),
    ("delete", "/api/v1/functions/hello/provisioned-concurrency?qualifier=live", None, "provisioned-concurrency"),
    ("get", "/api/v1/functions/hello/provisioned-concurrency-configs", None, "provisioned-concurrency-configs"),
    ("get", "/api/v1/functions/hello/concurrency", None, "function-concurrency"),
    ("put", "/api/v1/functions/hello/concurrency", {"reserved_concurrent_executions": 1}, "function-concurrency"),
    ("delete", "/api/v1/functions/hello/concurrency", None, "function-concurrency"),
    ("get", "/api/v1/queues/jobs", None, "queue"),
    ("patch", "/api/v1/queues/jobs", {"visibility_timeout": 5}, "queue"),
    ("delete", "/api/v1/queues/jobs", None, "queue"),
    ("post", "/api/v1/queues/jobs/messages", {"body": "planted"}, "queue-messages"),
    ("post", "/api/v1/queues/jobs/messages/receive", {"visibility_timeout": 0}, "queue-messages-receive"),
    ("delete", "/api/v1/queues/jobs/messages/{receipt_handle}", None, "queue-message"),
    ("get", "/api/v1/iam/policies/secret", None, "iam-policy"),
    ("patch", "/api/v1/iam/policies/secret", {"description": "mine"}, "iam-policy"),
    ("delete", "/api/v1/iam/policies/secret", None, "iam-policy"),
    ("get", "/api/v1/iam/groups/team", None, "iam-group"),
    ("delete", "/api/v1/iam/groups/team", None, "iam-group"),
    ("put", "/api/v1/iam/groups/team/members/carol", None, "iam-group-member"),
    ("delete", "/api/v1/iam/groups/team/members/carol", None, "iam-group-member"),
    ("put", "/api/v1/iam/groups/team/policies/LambentFullAccess", None, "iam-group-policy"),
    ("delete", "/api/v1/iam/groups/team/policies/secret", None, "iam-group-policy"),
    ("get", "/api/v1/iam/users/carol", None, "iam-user"),
    ("put", "/api/v1/iam/users/carol/policies/LambentFullAccess", None, "iam-user-policy"),
    ("delete", "/api/v1/iam/users/carol/policies/secret", None, "iam-user-policy"),
    ("post", "/api/v1/iam/simulate", {"username": "carol", "action": "lambda:GetFunction", "resource": "arn:aws:x"},
     "iam-simulate"),
    ("get", "/api/v1/schedules/nightly", None, "schedule"),
    ("put", "/api/v1/schedules/nightly", {"schedule_expression": "rate(1 minute)", "target_arn": "hello"}, "schedule"),
    ("patch", "/api/v1/schedules/nightly", {"state": "DISABLED"}, "schedule"),
    ("delete", "/api/v1/schedules/nightly", None, "schedule"),
    ("get", "/api/v1/schedules/nightly/firings", None, "schedule-firings"),
]
DENY = {"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "*", "Resource": "*"}}


@pytest.fixture
def victim(make_tenant, fake_executor):
    owner = make_tenant("victim")
    api = client_for(owner)
    assert api.post("/api/v1/functions", function_body(), format="json").status_code == 201
    api.post("/api/v1/functions/hello/versions", format="json")
    api.patch("/api/v1/functions/hello", {"timeout": 9}, format="json")
    api.post("/api/v1/functions/hello/versions", format="json")
    api.post("/api/v1/functions/hello/aliases", {"name": "live", "function_version": "1"}, format="json")
    request_id = api.post("/api/v1/functions/hello/invoke", {}, format="json")["X-Lambent-Request-Id"]
    api.post("/api/v1/queues", {"name": "jobs"}, format="json")
    api.post("/api/v1/queues/jobs/messages", {"body": "secret"}, format="json")
    api.post("/api/v1/queues/jobs/messages", {"body": "secret too"}, format="json")
    received = api.post("/api/v1/queues/jobs/messages/receive", {}, format="json").json()["messages"]
    jobs = api.get("/api/v1/queues/jobs").json()["arn"]
    api.put("/api/v1/functions/hello/event-invoke-config",
            {"destination_config": {"on_failure": {"destination": jobs}}}, format="json")
    api.put("/api/v1/functions/hello/dead-letter-config", {"target": jobs}, format="json")
    api.put("/api/v1/functions/hello/provisioned-concurrency?qualifier=live", {"provisioned_concurrent_executions": 2},
            format="json")
    api.put("/api/v1/functions/hello/concurrency", {"reserved_concurrent_executions": 5}, format="json")
    event_request_id = api.post("/api/v1/functions/hello/invoke?type=event", {}, format="json").json()["request_id"]
    iam_services.user_create(tenant=owner.tenant, username="carol", password="a long passphrase 123")
    api.post("/api/v1/iam/policies", {"name": "secret", "document": DENY}, format="json")
    api.post("/api/v1/iam/groups", {"name": "team"}, format="json")
    api.put("/api/v1/iam/groups/team/members/carol")
    api.put("/api/v1/iam/groups/team/policies/secret")
    api.put("/api/v1/iam/users/carol/policies/secret")
    api.post("/api/v1/schedules", {"name": "nightly", "schedule_expression": "cron(0 3 * * ? *)",
                                   "target_arn": "hello:live"}, format="json")
    return owner, {"request_id": request_id, "receipt_handle": received[0]["receipt_handle"],
                   "event_request_id": event_request_id}


def snapshot():
    return (
        list(Function.objects.values()),
        list(Version.objects.values()),
        list(Alias.objects.values()),
        list(Invocation.objects.values()),
        list(Queue.objects.values()),
        list(Message.objects.values()),
        list(EventInvokeConfig.objects.values()),
        list(DeadLetterConfig.objects.values()),
        list(OutboxMessage.objects.values()),
        list(ProvisionedConcurrencyConfig.objects.values()),
        list(ReservedConcurrency.objects.values()),
        list(TenantQuota.objects.values()),
        list(Policy.objects.values()),
        list(Group.objects.values()),
        list(GroupMembership.objects.values()),
        list(PolicyAttachment.objects.values()),
        list(ScheduleGroup.objects.values()),
        list(Schedule.objects.values()),
        list(Firing.objects.values()),
    )


@pytest.mark.parametrize(("method", "url", "body", "route"), ATTEMPTS, ids=[f"{a[0]} {a[1]}" for a in ATTEMPTS])
def test_another_tenants_resource_answers_404_and_is_untouched(victim, make_tenant, method, url, body, route):
    victim, ids = victim
    intruder = client_for(make_tenant("intruder"))
    before = snapshot()
    response = getattr(intruder, method)(url.format(**ids), body, format="json")
    assert response.status_code == 404, response.content
    assert response.json()["type"] == "ResourceNotFoundException"
    assert b"victim" not in response.content and victim.tenant.account_id.encode() not in response.content
    assert snapshot() == before


def test_lists_show_only_own_functions(victim, make_tenant):
    victim, _ = victim
    intruder = client_for(make_tenant("intruder"))
    assert intruder.get("/api/v1/functions").json()["results"] == []
    assert intruder.post("/api/v1/functions", function_body(), format="json").status_code == 201
    names = [(f["name"], f["arn"]) for f in intruder.get("/api/v1/functions").json()["results"]]
    assert len(names) == 1 and victim.tenant.account_id not in names[0][1]
    assert len(client_for(victim).get("/api/v1/functions").json()["results"]) == 1


def test_lists_show_only_own_queues(victim, make_tenant):
    victim, _ = victim
    intruder = client_for(make_tenant("intruder"))
    assert intruder.get("/api/v1/queues").json()["results"] == []
    assert intruder.post("/api/v1/queues", {"name": "jobs"}, format="json").status_code == 201
    (queue,) = intruder.get("/api/v1/queues").json()["results"]
    assert victim.tenant.account_id not in queue["arn"] and queue["approximate_number_of_messages"] == 0
    assert len(client_for(victim).get("/api/v1/queues").json()["results"]) == 1


def test_lists_show_only_own_schedules(victim, make_tenant):
    victim, _ = victim
    intruder = client_for(make_tenant("intruder"))
    assert intruder.get("/api/v1/schedules").json()["results"] == []
    assert client_for(victim).get("/api/v1/schedules").json()["results"][0]["name"] == "nightly"


def test_the_account_shows_only_own_functions_and_reservations(victim, make_tenant):
    intruder = client_for(make_tenant("intruder"))
    account = intruder.get("/api/v1/account").json()
    assert account["account_usage"] == {"total_code_size": 0, "function_count": 0}
    assert account["account_limit"]["unreserved_concurrent_executions"] == account["account_limit"][
        "concurrent_executions"]
    assert account["concurrent_executions_in_use"] == 0


def test_iam_lists_show_only_own_policies_groups_and_users(victim, make_tenant):
    intruder = client_for(make_tenant("intruder"))
    assert intruder.get("/api/v1/iam/policies").json()["results"] == []
    assert intruder.get("/api/v1/iam/groups").json() == []
    assert [user["username"] for user in intruder.get("/api/v1/iam/users").json()] == ["intruder-admin"]


def _route_names(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _route_names(pattern.url_patterns)
        elif pattern.name:
            yield pattern.name


def test_every_route_is_covered():
    api_v1 = next(p for p in get_resolver().url_patterns if str(p.pattern) == "api/v1/")
    tenant_routes = set(_route_names(api_v1.url_patterns)) - {"schema", "docs"}
    assert tenant_routes == {"functions", "queues", "account", "schedules", "iam-policies",
                             "iam-managed-policies", "iam-groups", "iam-users"} | {route for *_, route in ATTEMPTS}
