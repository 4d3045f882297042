"""The evaluator against a small reference model, over generated policies and requests.

The reference re-states AWS's rules as plainly as possible, on the raw JSON (no compiled
form): a wildcard matcher by recursion, conditions by their definition. The generated
policies draw from few actions, resources, keys and values, so matches, wildcards,
NotAction/NotResource, missing keys and multi-valued keys meet often.
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambent.iam.policies.documents import compile_document
from lambent.iam.policies.evaluation import Caller, evaluate

ME = Caller(account_id="111111111111", arn="arn:aws:iam::111111111111:user/me")
ACTIONS = ["lambda:InvokeFunction", "lambda:GetFunction", "lambda:ListFunctions"]
ACTION_PATTERNS = [*ACTIONS, "lambda:*", "*", "lambda:Get*", "lambda:?etFunction", "LAMBDA:invokefunction"]
RESOURCES = [f"arn:aws:lambda:us-east-1:{acct}:function:{name}" for acct in ("111111111111", "222222222222")
             for name in ("f", "g")]
RESOURCE_PATTERNS = [*RESOURCES, "*", "arn:aws:lambda:*:111111111111:function:*",
                     "arn:aws:lambda:us-east-1:*:function:?"]
KEYS = ["aws:RequestTag/team", "aws:TagKeys"]
VALUES = ["a", "b", "A"]
OPERATORS = ["StringEquals", "StringNotEquals", "StringLike", "StringEqualsIgnoreCase"]
PRINCIPALS = ["*", "111111111111", ME.arn, "222222222222", "arn:aws:iam::111111111111:user/other"]


def wild(pattern: str, text: str, fold: bool = False) -> bool:
    if fold:
        pattern, text = pattern.lower(), text.lower()
    if not pattern:
        return not text
    if pattern[0] == "*":
        return wild(pattern[1:], text) or (bool(text) and wild(pattern, text[1:]))
    return bool(text) and (pattern[0] in ("?", text[0])) and wild(pattern[1:], text[1:])


def base(op: str, policy_value: str, value: str) -> bool:
    if op == "StringLike":
        return wild(policy_value, value)
    if op == "StringEqualsIgnoreCase":
        return policy_value.lower() == value.lower()
    return policy_value == value  # StringEquals, and StringNotEquals before negation


def ref_condition(operator: str, key: str, values: list[str], context: dict) -> bool:
    key = key.lower()  # keys are case-insensitive; ``context`` has lower-cased keys
    if operator == "Null":
        return (key not in context) == (values[0] == "true")
    quantifier, _, op = operator.rpartition(":")
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    negated = op == "StringNotEquals"
    got = context.get(key)
    got = [] if got is None else [got] if isinstance(got, str) else got

    def one(v: str) -> bool:
        return any(base(op, p, v) for p in values) != negated
    if not got:
        return True if quantifier == "ForAllValues" else if_exists or (negated and not quantifier)
    if quantifier == "ForAnyValue":
        return any(one(v) for v in got)
    if quantifier == "ForAllValues":
        return all(one(v) for v in got)
    return all(one(v) for v in got) if negated else any(one(v) for v in got)


def ref_applies(statement: dict, action: str, resource: str, context: dict) -> bool:
    key = "Action" if "Action" in statement else "NotAction"
    if any(wild(p, action, fold=True) for p in statement[key]) != (key == "Action"):
        return False
    key = "Resource" if "Resource" in statement else "NotResource"
    if any(wild(p, resource) for p in statement[key]) != (key == "Resource"):
        return False
    return all(ref_condition(op, k, v, context) for op, block in statement.get("Condition", {}).items()
               for k, v in block.items())


def names(statement: dict, directly: bool) -> bool:
    principals = statement["Principal"]["AWS"]
    return "*" in principals or ME.arn in principals or (not directly and ME.account_id in principals)


def reference(identity, resource_statements, action, resource, context) -> bool:
    lower = {k.lower(): v for k, v in context.items()}
    if any(s["Effect"] == "Deny" and ref_applies(s, action, resource, lower) for s in identity):
        return False
    if any(s["Effect"] == "Deny" and names(s, False) and ref_applies(s, action, resource, lower)
           for s in resource_statements):
        return False
    same = resource.split(":")[4] == ME.account_id
    by_identity = any(s["Effect"] == "Allow" and ref_applies(s, action, resource, lower) for s in identity)
    by_resource = any(s["Effect"] == "Allow" and names(s, same) and ref_applies(s, action, resource, lower)
                      for s in resource_statements)
    return (by_identity or by_resource) if same else (by_identity and by_resource)


def lists(items):
    return st.lists(st.sampled_from(items), min_size=1, max_size=2)


conditions = st.dictionaries(
    st.sampled_from([*OPERATORS, *(f"{op}IfExists" for op in OPERATORS),
                     *(f"{q}:{op}" for q in ("ForAnyValue", "ForAllValues") for op in OPERATORS), "Null"]),
    st.dictionaries(st.sampled_from(KEYS), lists(VALUES), min_size=1, max_size=1), max_size=2)


@st.composite
def statements(draw, resource_policy: bool):
    statement = {"Effect": draw(st.sampled_from(["Allow", "Allow", "Deny"])),
                 draw(st.sampled_from(["Action", "NotAction"])): draw(lists(ACTION_PATTERNS)),
                 draw(st.sampled_from(["Resource", "Resource", "NotResource"])): draw(lists(RESOURCE_PATTERNS))}
    condition = draw(conditions)
    if "Null" in condition:
        condition["Null"] = {k: [draw(st.sampled_from(["true", "false"]))] for k in condition["Null"]}
    if condition:
        statement["Condition"] = condition
    if resource_policy:
        statement["Principal"] = {"AWS": draw(lists(PRINCIPALS))}
    return statement


contexts = st.fixed_dictionaries({}, optional={"aws:RequestTag/team": st.sampled_from(VALUES),
                                               "aws:TagKeys": st.lists(st.sampled_from(VALUES), max_size=3)})


@settings(max_examples=1_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(identity=st.lists(statements(False), max_size=3), resource_policy=st.lists(statements(True), max_size=2),
       context=contexts)
def test_evaluator_agrees_with_the_reference(identity, resource_policy, context):
    """1,000 generated policy sets, each decided for every action on every resource: 12,000 cases."""
    policies = [compile_document({"Version": "2012-10-17", "Statement": identity}, name="p")] if identity else []
    own = compile_document({"Version": "2012-10-17", "Statement": resource_policy}, name="r",
                           kind="resource") if resource_policy else None
    lowered = {k.lower(): v for k, v in context.items()}
    for action in ACTIONS:
        for resource in RESOURCES:
            decision = evaluate(caller=ME, action=action, resource=resource, identity=policies,
                                resource_policy=own, context=lowered)
            assert decision.allowed is reference(identity, resource_policy, action, resource, context)
            if any(s["Effect"] == "Deny" and ref_applies(s, action, resource, lowered) for s in identity):
                assert decision.reason == "explicit-deny"
