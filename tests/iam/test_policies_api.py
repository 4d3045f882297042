"""The iam API: policies, groups, attachments, the simulator; validation messages; tenant isolation;
the shipped policies against botocore's Lambda operations; the account id at tenant creation."""

import botocore.session
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from lambent.iam import services
from lambent.iam.policies import managed
from lambent.iam.policies.principals import Principal, tenant_arn
from lambent.lambda_api import routes
from tests.conftest import client_for

DENY_INVOKE = {"Version": "2012-10-17", "Statement": [
    {"Sid": "NoInvoke", "Effect": "Deny", "Action": "lambda:Invoke*", "Resource": "*"}]}


def simulate(api, tenant, action, resource=None, username=None, **context):
    body = {"username": username or f"{tenant.tenant.name}-admin", "action": action,
            "resource": resource or f"arn:aws:lambda:us-east-1:{tenant.tenant.account_id}:function:f",
            "context_entries": context}
    return api.post("/api/v1/iam/simulate", body, format="json")


def test_first_user_has_full_access_and_a_deny_wins(api, tenant):
    answer = simulate(api, tenant, "lambda:InvokeFunction").json()
    assert answer == {"allowed": True, "decision": "allowed", "policy": "LambentFullAccess",
                      "statement": "FullAccess", "message": "Allowed by LambentFullAccess (FullAccess)."}
    assert api.post("/api/v1/iam/policies", {"name": "no-invoke", "document": DENY_INVOKE}, format="json"
                    ).status_code == 201
    assert api.put("/api/v1/iam/users/acme-admin/policies/no-invoke").status_code == 204
    denied = simulate(api, tenant, "lambda:InvokeFunction").json()
    assert denied["allowed"] is False and denied["statement"] == "NoInvoke"
    assert denied["message"] == (f"User: arn:aws:iam::{tenant.tenant.account_id}:user/acme-admin is not authorized "
                                 f"to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:"
                                 f"{tenant.tenant.account_id}:function:f with an explicit deny in an identity-based "
                                 "policy")
    assert simulate(api, tenant, "lambda:GetFunction").json()["allowed"] is True


def test_groups_grant_their_policies_and_changes_apply_at_once(api, tenant):
    services.user_create(tenant=tenant.tenant, username="bob", password="a long passphrase 123")
    assert simulate(api, tenant, "lambda:GetFunction", username="bob").json()["message"].endswith(
        "because no identity-based policy allows the lambda:GetFunction action")
    assert api.post("/api/v1/iam/groups", {"name": "readers"}, format="json").status_code == 201
    assert api.put("/api/v1/iam/groups/readers/members/bob").status_code == 204
    assert api.put("/api/v1/iam/groups/readers/policies/LambentReadOnly").status_code == 204
    assert api.get("/api/v1/iam/groups/readers").json()["members"] == ["bob"]
    assert simulate(api, tenant, "lambda:GetFunction", username="bob").json()["policy"] == "LambentReadOnly"
    assert simulate(api, tenant, "lambda:UpdateFunctionCode", username="bob").json()["allowed"] is False
    assert api.delete("/api/v1/iam/groups/readers/members/bob").status_code == 204
    assert simulate(api, tenant, "lambda:GetFunction", username="bob").json()["allowed"] is False


def test_conditions_read_the_simulated_context(api, tenant):
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*",
                                                        "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}
    api.post("/api/v1/iam/policies", {"name": "office", "document": document}, format="json")
    api.put("/api/v1/iam/users/acme-admin/policies/office")
    assert simulate(api, tenant, "lambda:GetFunction", **{"aws:SourceIp": "10.1.2.3"}).json()["allowed"] is True
    assert simulate(api, tenant, "lambda:GetFunction", **{"aws:SourceIp": "8.8.8.8"}).json()["allowed"] is False


@pytest.mark.parametrize(("document", "message"), [
    ({"Statement": []}, "Version: must be '2012-10-17'."),
    ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"},
                                             {"Effect": "Allow", "Action": "*", "Resource": "*"},
                                             {"Effect": "Allow", "Action": "*", "Resource": "*",
                                              "Condition": {"StringEqualz": {"aws:SourceIp": "x"}}}]},
     "Statement[2].Condition: unknown operator 'StringEqualz'"),
    ({"Version": "2012-10-17", "Statement": {"Effect": "Permit", "Action": "*", "Resource": "*"}},
     "Statement[0].Effect: must be \"Allow\" or \"Deny\"."),
    ({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "invoke", "Resource": "*"}},
     "Statement[0].Action: 'invoke' is not <service>:<action> or *."),
    ({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "NotAction": "*", "Resource": "*"}},
     "Statement[0]: exactly one of Action or NotAction is required."),
    ({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "function:f"}},
     "Statement[0].Resource: 'function:f' is neither an ARN nor *."),
    ({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Principal": "*"}},
     "Statement[0]: an identity-based policy must not name a Principal."),
    ({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
                                             "Condition": {"StringEquals": {"aws:Nope": "x"}}}},
     "Statement[0].Condition.StringEquals: unknown condition key 'aws:Nope'."),
    ("{not json", "The policy is not valid JSON"),
])
def test_a_malformed_document_is_a_400_naming_the_statement(api, document, message):
    answer = api.post("/api/v1/iam/policies", {"name": "p", "document": document}, format="json")
    assert answer.status_code == 400
    assert answer.json()["type"] == "MalformedPolicyDocumentException"
    assert message in answer.json()["message"]
    assert api.get("/api/v1/iam/policies").json()["results"] == []


def test_policy_update_counts_revisions_and_attached_policies_are_not_deleted(api):
    api.post("/api/v1/iam/policies", {"name": "p", "document": DENY_INVOKE}, format="json")
    changed = api.patch("/api/v1/iam/policies/p", {"document": managed.DOCUMENTS["LambentReadOnly"]}, format="json")
    assert changed.json()["revision"] == 2
    api.put("/api/v1/iam/users/acme-admin/policies/p")
    assert api.delete("/api/v1/iam/policies/p").status_code == 409
    api.delete("/api/v1/iam/users/acme-admin/policies/p")
    assert api.delete("/api/v1/iam/policies/p").status_code == 204
    assert api.post("/api/v1/iam/policies", {"name": "LambentReadOnly", "document": DENY_INVOKE},
                    format="json").status_code == 409


def test_another_tenants_policies_groups_and_users_are_not_found(api, tenant, make_tenant):
    other = make_tenant("other")
    theirs = client_for(other)
    theirs.post("/api/v1/iam/policies", {"name": "theirs", "document": DENY_INVOKE}, format="json")
    theirs.post("/api/v1/iam/groups", {"name": "team"}, format="json")
    assert api.get("/api/v1/iam/policies/theirs").status_code == 404
    assert api.get("/api/v1/iam/groups/team").status_code == 404
    assert api.get("/api/v1/iam/users/other-admin").status_code == 404
    assert api.put("/api/v1/iam/users/acme-admin/policies/theirs").status_code == 404
    assert api.post("/api/v1/iam/groups", {"name": "team"}, format="json").status_code == 201
    assert api.put("/api/v1/iam/groups/team/members/other-admin").status_code == 404
    assert simulate(api, tenant, "lambda:GetFunction", username="other-admin").status_code == 404
    assert [u["username"] for u in api.get("/api/v1/iam/users").json()] == ["acme-admin"]


def test_across_tenants_only_a_resource_policy_naming_the_caller_grants(api, tenant, make_tenant, create_function):
    create_function("shared")
    other = make_tenant("other")
    theirs = client_for(other)
    arn = f"arn:aws:lambda:us-east-1:{tenant.tenant.account_id}:function:shared"
    asked = theirs.post("/api/v1/iam/simulate", {"username": "other-admin", "action": "lambda:InvokeFunction",
                                                 "resource": arn}, format="json").json()
    assert asked["message"].endswith("because no resource-based policy allows the lambda:InvokeFunction action")
    from lambent.functions.policies import Permission, permission_add
    permission_add(tenant=tenant.tenant, function_name="shared", qualifier=None,
                   permission=Permission(statement_id="share", action="lambda:InvokeFunction",
                                         principal=other.tenant.account_id))
    asked = theirs.post("/api/v1/iam/simulate", {"username": "other-admin", "action": "lambda:InvokeFunction",
                                                 "resource": arn}, format="json").json()
    assert (asked["allowed"], asked["policy"], asked["statement"]) == (True, "resource-policy", "share")
    asked = theirs.post("/api/v1/iam/simulate", {"username": "other-admin", "action": "lambda:GetFunction",
                                                 "resource": arn}, format="json").json()
    assert asked["allowed"] is False


def test_shipped_policies_match_botocores_lambda_operations():
    model = botocore.session.get_session().get_service_model("lambda")
    assert set(managed.OPERATIONS) == set(model.operation_names)
    assert {r.operation for r in routes.ROUTES} <= set(managed.OPERATIONS)
    reads = {f"lambda:{op}" for op in model.operation_names if op.startswith(("Get", "List"))}
    assert set(managed.READ_ACTIONS) == reads
    policy = managed.POLICIES["LambentReadOnly"]
    for op in model.operation_names:
        action = managed.action_for(op)
        assert policy.statements[0].applies_to(action=action, resource="arn:x") is (action in reads)
    assert managed.action_for("InvokeWithResponseStream") == "lambda:InvokeFunction"


def test_an_access_key_acts_as_its_user_in_its_tenant(tenant):
    principal = Principal.of_key(tenant.credentials.access_key)
    assert principal.arn == f"arn:aws:iam::{tenant.tenant.account_id}:user/acme-admin"
    assert principal.account_id == tenant.tenant.account_id
    assert tenant_arn(account_id=principal.account_id) == f"arn:aws:iam::{tenant.tenant.account_id}:root"


def test_tenant_create_takes_an_account_id_once(db, capsys):
    call_command("tenant", "create", "acme", "--account-id", "123456789012")
    assert "123456789012" in capsys.readouterr().out
    with pytest.raises(CommandError, match="belongs to another tenant"):
        call_command("tenant", "create", "beta", "--account-id", "123456789012")
    with pytest.raises(CommandError, match="12 digits"):
        call_command("tenant", "create", "gamma", "--account-id", "12345")


def test_the_admin_refuses_a_malformed_policy(client, django_user_model, tenant):
    client.force_login(django_user_model.objects.create_superuser("operator", "op@example.com", "pw"))
    page = client.post("/admin/iam/policy/add/", {
        "tenant": tenant.tenant.pk, "name": "p", "description": "",
        "document": '{"Version": "2012-10-17", "Statement": {"Effect": "Maybe", "Action": "*", "Resource": "*"}}'})
    assert page.status_code == 200
    assert b"Statement[0].Effect: must be" in page.content


def test_deleting_a_tenant_takes_its_policies_groups_and_attachments(api, tenant):
    from lambent.iam.models import Group, Policy, PolicyAttachment
    api.post("/api/v1/iam/policies", {"name": "p", "document": DENY_INVOKE}, format="json")
    api.post("/api/v1/iam/groups", {"name": "g"}, format="json")
    api.put("/api/v1/iam/groups/g/policies/p")
    api.put("/api/v1/iam/users/acme-admin/policies/p")
    tenant.tenant.delete()
    assert not (Policy.objects.exists() or Group.objects.exists() or PolicyAttachment.objects.exists())


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/v1/iam/groups", {"name": "bad name"}, "name"),
    ("/api/v1/iam/groups", {"name": "x" * 129}, "name"),
    ("/api/v1/iam/policies", {"name": "p", "document": 5}, "document"),
    ("/api/v1/iam/simulate", {"username": "acme-admin", "action": "invoke", "resource": "arn:x"}, "action"),
    ("/api/v1/iam/simulate", {"username": "acme-admin", "action": "lambda:GetFunction", "resource": "arn:x",
                              "context_entries": {"aws:SourceIp": 5}}, "context_entries"),
    ("/api/v1/iam/simulate", {"username": "acme-admin", "action": "lambda:GetFunction", "resource": "arn:x",
                              "context_entries": {"nokey": "x"}}, "context_entries"),
])
def test_invalid_fields_are_named(api, path, body, field):
    answer = api.post(path, body, format="json")
    assert answer.status_code == 400 and field in answer.json()["fields"], answer.json()
