"""The one decision point: may this principal perform this action on this resource?

``evaluate`` is AWS's evaluation logic over compiled policies, with no I/O:

1. an explicit Deny that applies, in any identity policy of the caller or in the resource's
   policy, denies;
2. within the resource's tenant, an Allow in the caller's identity policies *or* in the
   resource policy allows. A resource-policy statement grants by itself when it names the
   caller's user ARN or ``*``; one naming only the tenant (``arn:aws:iam::<account>:root``)
   delegates to the tenant's own identity policies, as AWS treats its account principal;
3. across tenants, the resource policy must allow (naming the caller's user, its tenant or
   ``*``) *and* the caller's identity policies must allow, as AWS requires of cross-account
   access: a tenant's identity policies alone never reach another tenant's resources;
4. otherwise the request is implicitly denied.

``authorize`` loads what ``evaluate`` needs: the caller's identity policies (cached, see
``cache``) and the resource's policy (from the app that owns the resource, see ``resources``).
The request context gets ``aws:PrincipalAccount``, ``aws:PrincipalArn`` and
``aws:CurrentTime`` from the platform: a caller cannot supply them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from lambent.iam.policies import cache, resources
from lambent.iam.policies.conditions import Context
from lambent.iam.policies.documents import Policy, Statement
from lambent.iam.policies.principals import Principal, tenant_arn

RESOURCE_POLICY = "resource-policy"


@dataclass(frozen=True)
class Caller:
    """What evaluation needs to know of the principal."""

    account_id: str
    arn: str


@dataclass(frozen=True)
class Decision:
    """The answer, and what decided it: a policy and its statement, or nothing (an implicit deny)."""

    allowed: bool
    reason: str  # "allowed", "explicit-deny" or "implicit-deny"
    message: str
    policy: str | None = None
    statement: str | None = None


def account_of(arn: str) -> str:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 else ""


def request_context(*, caller: Caller, context: Mapping[str, str | Sequence[str]],
                    now: datetime | None = None) -> dict[str, str | Sequence[str]]:
    """Keys lower-cased; the principal's keys and the time set by the platform."""
    found: dict[str, str | Sequence[str]] = {key.lower(): value for key, value in context.items()}
    found["aws:principalaccount"] = caller.account_id
    found["aws:principalarn"] = caller.arn
    found.setdefault("aws:currenttime", (now or datetime.now(UTC)).isoformat())
    return found


def _applying(policies: Sequence[Policy], *, effect: str, action: str, resource: str,
              context: Context) -> Iterator[tuple[Policy, Statement]]:
    for policy in policies:
        for statement in policy.statements:
            if (statement.effect == effect and statement.applies_to(action=action, resource=resource)
                    and all(c.holds(context) for c in statement.conditions)):
                yield policy, statement


def _names(statement: Statement, caller: Caller, *, directly: bool) -> bool:
    """Does a resource-policy statement name the caller? ``directly``: by its user ARN or ``*`` only."""
    principals = statement.principals or ()
    if "*" in principals or caller.arn in principals:
        return True
    return not directly and tenant_arn(account_id=caller.account_id) in principals


def _resource_statements(policy: Policy | None, caller: Caller, *, directly: bool) -> list[Policy]:
    if policy is None:
        return []
    named = tuple(s for s in policy.statements if _names(s, caller, directly=directly))
    return [Policy(name=policy.name, statements=named)]


def _message(caller: Caller, action: str, resource: str, tail: str) -> str:
    return f"User: {caller.arn} is not authorized to perform: {action} on resource: {resource} {tail}"


def evaluate(*, caller: Caller, action: str, resource: str, identity: Sequence[Policy],
             resource_policy: Policy | None, context: Context) -> Decision:
    """AWS's logic (module docstring); ``context`` as ``request_context`` makes it."""
    same_tenant = account_of(resource) == caller.account_id
    naming = _resource_statements(resource_policy, caller, directly=False)
    for kind, policies in (("an identity-based", identity), ("a resource-based", naming)):
        for policy, statement in _applying(policies, effect="Deny", action=action, resource=resource,
                                           context=context):
            return Decision(allowed=False, reason="explicit-deny", policy=policy.name, statement=statement.label,
                            message=_message(caller, action, resource, f"with an explicit deny in {kind} policy"))
    granting = _resource_statements(resource_policy, caller, directly=same_tenant)
    by_resource = next(_applying(granting, effect="Allow", action=action, resource=resource, context=context), None)
    by_identity = next(_applying(identity, effect="Allow", action=action, resource=resource, context=context), None)
    if same_tenant:
        found = by_identity or by_resource
    elif by_resource is None:
        return Decision(allowed=False, reason="implicit-deny", message=_message(
            caller, action, resource, f"because no resource-based policy allows the {action} action"))
    else:
        found = by_resource if by_identity is not None else None
    if found is None:
        return Decision(allowed=False, reason="implicit-deny", message=_message(
            caller, action, resource, f"because no identity-based policy allows the {action} action"))
    policy, statement = found
    return Decision(allowed=True, reason="allowed", policy=policy.name, statement=statement.label,
                    message=f"Allowed by {policy.name} ({statement.label}).")


def authorize(*, principal: Principal, action: str, resource: str,
              context: Mapping[str, str | Sequence[str]] | None = None) -> Decision:
    """Decide one request of ``principal`` (module docstring)."""
    caller = Caller(account_id=principal.account_id, arn=principal.arn)
    return evaluate(caller=caller, action=action, resource=resource,
                    identity=cache.identity_policies(tenant=principal.tenant, user_id=principal.user_id),
                    resource_policy=resources.policy_of(resource),
                    context=request_context(caller=caller, context=context or {}))
