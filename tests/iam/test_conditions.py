"""Every condition operator, with IAM's rules for missing keys, IfExists, Null and set operators."""

import pytest

from lambent.iam.policies.conditions import ConditionError, compile_condition


def holds(operator, values, context, key="aws:RequestTag/team"):
    return compile_condition(operator=operator, key=key, values=values).holds(
        {k.lower(): v for k, v in context.items()})


T = "aws:requesttag/team"
CASES = [
    ("StringEquals", ["blue"], {T: "blue"}, True), ("StringEquals", ["blue"], {T: "Blue"}, False),
    ("StringNotEquals", ["blue"], {T: "red"}, True), ("StringNotEquals", ["blue", "red"], {T: "red"}, False),
    ("StringEqualsIgnoreCase", ["BLUE"], {T: "blue"}, True), ("StringEqualsIgnoreCase", ["x"], {T: "blue"}, False),
    ("StringNotEqualsIgnoreCase", ["BLUE"], {T: "blue"}, False), ("StringNotEqualsIgnoreCase", ["x"], {T: "b"}, True),
    ("StringLike", ["bl?e*"], {T: "blue-sky"}, True), ("StringLike", ["bl?e"], {T: "bloom"}, False),
    ("StringNotLike", ["bl*"], {T: "blue"}, False), ("StringNotLike", ["r*"], {T: "blue"}, True),
    ("NumericEquals", ["10"], {T: "10.0"}, True), ("NumericNotEquals", ["10"], {T: "11"}, True),
    ("NumericLessThan", ["10"], {T: "9"}, True), ("NumericLessThan", ["10"], {T: "10"}, False),
    ("NumericLessThanEquals", ["10"], {T: "10"}, True), ("NumericGreaterThan", ["10"], {T: "10"}, False),
    ("NumericGreaterThanEquals", ["10"], {T: "10"}, True), ("NumericEquals", ["10"], {T: "ten"}, False),
    ("DateEquals", ["2026-01-01T00:00:00Z"], {T: "1767225600"}, True),
    ("DateNotEquals", ["2026-01-01T00:00:00Z"], {T: "2026-01-02T00:00:00Z"}, True),
    ("DateLessThan", ["2026-01-01T00:00:00Z"], {T: "2025-12-31T23:59:59+00:00"}, True),
    ("DateLessThanEquals", ["2026-01-01T00:00:00Z"], {T: "2026-01-01T00:00:01Z"}, False),
    ("DateGreaterThan", ["2026-01-01"], {T: "2026-06-01T00:00:00Z"}, True),
    ("DateGreaterThanEquals", ["2026-01-01T00:00:00Z"], {T: "not a date"}, False),
    ("Bool", ["true"], {T: "true"}, True), ("Bool", ["false"], {T: "true"}, False),
    ("IpAddress", ["203.0.113.0/24"], {T: "203.0.113.9"}, True), ("IpAddress", ["203.0.113.0/24"], {T: "10.0.0.1"},
                                                                   False),
    ("IpAddress", ["2001:db8::/32"], {T: "2001:db8::1"}, True), ("IpAddress", ["203.0.113.0/24"], {T: "nope"}, False),
    ("NotIpAddress", ["203.0.113.0/24"], {T: "10.0.0.1"}, True),
    ("ArnEquals", ["arn:aws:lambda:*:123456789012:function:f"], {T: "arn:aws:lambda:us-east-1:123456789012:function:f"},
     True),
    ("ArnLike", ["arn:aws:s3:::bucket-*"], {T: "arn:aws:s3:::bucket-1"}, True),
    ("ArnLike", ["arn:aws:s3:::bucket-*"], {T: "bucket-1"}, False),
    ("ArnLike", ["arn:aws:*:us-east-1:*:*"], {T: "arn:aws:s3:eu-west-1:1:x"}, False),
    ("ArnNotEquals", ["arn:aws:s3:::a"], {T: "arn:aws:s3:::b"}, True),
    ("ArnNotLike", ["arn:aws:s3:::a*"], {T: "arn:aws:s3:::ab"}, False),
]


@pytest.mark.parametrize(("operator", "values", "context", "expected"), CASES)
def test_operator(operator, values, context, expected):
    assert holds(operator, values, context) is expected


@pytest.mark.parametrize("operator", ["StringEquals", "StringLike", "NumericLessThan", "DateEquals", "Bool",
                                      "IpAddress", "ArnLike", "ForAnyValue:StringEquals"])
def test_positive_operators_on_a_missing_key_are_false_unless_if_exists(operator):
    value = {"NumericLessThan": "1", "DateEquals": "2026-01-01", "Bool": "true", "IpAddress": "10.0.0.0/8",
             "ArnLike": "arn:aws:s3:::x"}.get(operator, "x")
    assert holds(operator, [value], {}) is False
    assert holds(f"{operator}IfExists", [value], {}) is True
    assert holds(f"{operator}IfExists", [value], {T: "other"}) is False


def test_negated_operators_on_a_missing_key_are_true():
    assert holds("StringNotEquals", ["x"], {}) is True
    assert holds("NotIpAddress", ["10.0.0.0/8"], {}) is True


def test_null_tests_presence():
    assert holds("Null", ["true"], {}) is True
    assert holds("Null", ["true"], {T: "x"}) is False
    assert holds("Null", ["false"], {T: "x"}) is True


def test_set_operators_on_multi_valued_keys():
    tags = {"aws:TagKeys": ["a", "b"]}
    assert holds("ForAnyValue:StringEquals", ["b", "z"], tags, key="aws:TagKeys") is True
    assert holds("ForAllValues:StringEquals", ["a", "z"], tags, key="aws:TagKeys") is False
    assert holds("ForAllValues:StringEquals", ["a", "b", "z"], tags, key="aws:TagKeys") is True
    assert holds("ForAllValues:StringEquals", ["a"], {}, key="aws:TagKeys") is True
    assert holds("ForAnyValue:StringEquals", ["a"], {"aws:TagKeys": []}, key="aws:TagKeys") is False
    assert holds("ForAnyValue:StringNotEquals", ["a"], tags, key="aws:TagKeys") is True
    assert holds("ForAllValues:StringNotEquals", ["a"], tags, key="aws:TagKeys") is False


def test_keys_are_case_insensitive():
    assert holds("StringEquals", ["blue"], {"AWS:REQUESTTAG/TEAM": "blue"}, key="aws:RequestTag/Team") is True


@pytest.mark.parametrize(("operator", "value", "problem"), [
    ("NumericEquals", "ten", "'ten' is not a valid value"), ("DateEquals", "someday", "not a valid value"),
    ("Bool", "yes", "not a valid value"), ("IpAddress", "10.0.0.300/8", "not a valid value"),
    ("ArnLike", "bucket", "not a valid value"), ("StringEqualz", "x", "unknown operator 'StringEqualz'"),
    ("ForSomeValues:StringEquals", "x", "unknown set operator"), ("NullIfExists", "true", "Null takes neither"),
])
def test_malformed_values_and_operators_are_refused(operator, value, problem):
    with pytest.raises(ConditionError, match=problem):
        compile_condition(operator=operator, key="aws:SourceIp", values=[value])
