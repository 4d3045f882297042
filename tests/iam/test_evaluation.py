"""Decisions of ``evaluate`` and ``authorize`` in the cases the reference model does not spell out:
messages, resource-policy principals, the platform's own context keys, and the cache."""

from django.contrib.auth.models import User

from lambent.iam.models import PolicyAttachment
from lambent.iam.policies import cache
from lambent.iam.policies.documents import compile_document
from lambent.iam.policies.evaluation import Caller, authorize, evaluate, request_context
from lambent.iam.policies.principals import Principal

ME = Caller(account_id="111111111111", arn="arn:aws:iam::111111111111:user/me")
MINE = "arn:aws:lambda:us-east-1:111111111111:function:f"
THEIRS = "arn:aws:lambda:us-east-1:222222222222:function:f"
ALLOW_ALL = compile_document({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*",
                                                                    "Resource": "*"}}, name="all")


def resource_policy(principal, effect="Allow", **extra):
    statement = {"Sid": "s-1", "Effect": effect, "Principal": principal, "Action": "lambda:InvokeFunction",
                 "Resource": THEIRS, **extra}
    return compile_document({"Version": "2012-10-17", "Statement": [statement]}, name="resource-policy",
                            kind="resource")


def decide(resource, identity=(), policy=None, context=None):
    return evaluate(caller=ME, action="lambda:InvokeFunction", resource=resource, identity=list(identity),
                    resource_policy=policy, context=request_context(caller=ME, context=context or {}))


def test_nothing_attached_is_an_implicit_deny_in_awss_words():
    decision = decide(MINE)
    assert (decision.allowed, decision.reason, decision.policy) == (False, "implicit-deny", None)
    assert decision.message == ("User: arn:aws:iam::111111111111:user/me is not authorized to perform: "
                                f"lambda:InvokeFunction on resource: {MINE} because no identity-based policy allows "
                                "the lambda:InvokeFunction action")


def test_identity_policies_alone_never_reach_another_tenant():
    assert decide(THEIRS, [ALLOW_ALL]).message.endswith("because no resource-based policy allows the "
                                                        "lambda:InvokeFunction action")


def test_across_tenants_the_grant_must_name_the_caller_and_the_caller_must_be_allowed():
    for principal in ({"AWS": "111111111111"}, {"AWS": ME.arn}, "*"):
        assert decide(THEIRS, [ALLOW_ALL], resource_policy(principal)).allowed is True
        assert decide(THEIRS, [], resource_policy(principal)).allowed is False
    assert decide(THEIRS, [ALLOW_ALL], resource_policy({"AWS": "333333333333"})).allowed is False
    assert decide(THEIRS, [ALLOW_ALL], resource_policy({"Service": "s3.amazonaws.com"})).allowed is False


def test_a_resource_policy_deny_is_explicit():
    denied = decide(THEIRS, [ALLOW_ALL], resource_policy({"AWS": ME.arn}, effect="Deny"))
    assert denied.reason == "explicit-deny" and denied.statement == "s-1"
    assert denied.message.endswith("with an explicit deny in a resource-based policy")


def test_source_conditions_of_addpermission_apply():
    policy = resource_policy("*", Condition={"StringEquals": {"AWS:SourceAccount": "444444444444"},
                                             "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"}})
    assert decide(THEIRS, [ALLOW_ALL], policy).allowed is False
    context = {"aws:SourceAccount": "444444444444", "aws:SourceArn": "arn:aws:s3:::bucket"}
    assert decide(THEIRS, [ALLOW_ALL], policy, context).allowed is True


def test_the_callers_own_keys_cannot_be_forged():
    context = request_context(caller=ME, context={"aws:PrincipalAccount": "999999999999"})
    assert context["aws:principalaccount"] == "111111111111" and "aws:currenttime" in context


def test_policies_are_cached_until_anything_changes(tenant, django_assert_num_queries):
    user = User.objects.get(username="acme-admin")
    principal = Principal(tenant=tenant.tenant, user_id=user.pk, username=user.username)
    arn = f"arn:aws:lambda:us-east-1:{tenant.tenant.account_id}:function:f"
    assert authorize(principal=principal, action="lambda:GetFunction", resource=arn).allowed is True
    with django_assert_num_queries(0):
        assert cache.identity_policies(tenant=tenant.tenant, user_id=user.pk)
    version = cache.version()
    PolicyAttachment.objects.get(user=user).delete()
    assert cache.version() > version
    assert authorize(principal=principal, action="lambda:GetFunction", resource=arn).allowed is False
