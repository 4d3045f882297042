"""Condition operators of IAM policies: parsed once, evaluated against a request's context.

An operator name is ``[ForAnyValue:|ForAllValues:]<Base>[IfExists]``. Each base operator
compares one value of the request with the policy's values: a positive operator holds when
some policy value matches (the values of one key are ORed), a negated one (``StringNotEquals``,
``NotIpAddress``, ...) when none does. Missing keys follow IAM's rules:

- a positive operator on a key the request lacks is false, unless ``...IfExists``;
- a negated operator on a missing key is true (nothing in the request equals the value);
- ``ForAnyValue:`` on a missing key (or an empty set) is false, ``ForAllValues:`` true;
- ``Null`` tests presence itself: ``"true"`` holds when the key is missing.

Values are typed by the operator: a policy value that is not a number, a date, an address or a
boolean where the operator needs one makes the document malformed (``ConditionError``); a
request value that is not one simply does not match.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

#: A request context: lower-cased key -> its value, or its values for a multi-valued key.
Context = Mapping[str, str | Sequence[str]]


class ConditionError(ValueError):
    """A condition block that cannot be understood; the message says what is wrong."""


def glob(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """IAM's wildcards: ``*`` any run of characters (``/`` and ``:`` included), ``?`` one character."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _date(text: str) -> datetime | None:
    text = text.strip()
    number = _number(text)
    try:
        parsed = datetime.fromtimestamp(float(number), UTC) if number is not None else datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _arn_parts(text: str) -> list[str] | None:
    parts = text.split(":", 5)
    return parts if len(parts) == 6 and parts[0] == "arn" else None


@dataclass(frozen=True)
class _Arn:
    """An ARN pattern matched segment by segment, as ``ArnLike`` does: a ``*`` stays in its segment,
    except in the last one (the resource), which may itself hold colons."""

    segments: tuple[re.Pattern[str], ...]

    @classmethod
    def parse(cls, text: str) -> _Arn | None:
        parts = _arn_parts(text)
        return None if parts is None else cls(tuple(glob(part) for part in parts))

    def matches(self, text: str) -> bool:
        parts = _arn_parts(text)
        return parts is not None and all(p.match(v) for p, v in zip(self.segments, parts, strict=True))


def _string_family() -> dict[str, tuple[Callable[[str], Any], Callable[[Any, str], bool]]]:
    return {
        "StringEquals": (str, lambda p, v: p == v),
        "StringEqualsIgnoreCase": (str.casefold, lambda p, v: p == v.casefold()),
        "StringLike": (glob, lambda p, v: p.match(v) is not None),
    }


def _compare(parse: Callable[[str], Any], test: Callable[[Any, Any], bool]) -> tuple[
        Callable[[str], Any], Callable[[Any, str], bool]]:
    def holds(policy_value: Any, request_value: str) -> bool:
        parsed = parse(request_value)
        return parsed is not None and test(parsed, policy_value)
    return parse, holds


def _typed_family(name: str, parse: Callable[[str], Any]) -> dict[str, tuple[Callable[[str], Any],
                                                                           Callable[[Any, str], bool]]]:
    return {
        f"{name}Equals": _compare(parse, lambda v, p: v == p),
        f"{name}LessThan": _compare(parse, lambda v, p: v < p),
        f"{name}LessThanEquals": _compare(parse, lambda v, p: v <= p),
        f"{name}GreaterThan": _compare(parse, lambda v, p: v > p),
        f"{name}GreaterThanEquals": _compare(parse, lambda v, p: v >= p),
    }


def _bool(text: str) -> bool | None:
    lowered = text.strip().lower()
    return {"true": True, "false": False}.get(lowered)


#: Positive base operators: (parse a policy value, does it hold for one request value).
_POSITIVE: dict[str, tuple[Callable[[str], Any], Callable[[Any, str], bool]]] = {
    **_string_family(),
    **_typed_family("Numeric", _number),
    **_typed_family("Date", _date),
    "Bool": (_bool, lambda p, v: _bool(v) == p),
    "IpAddress": (_network, lambda p, v: (a := _address(v)) is not None and a.version == p.version and a in p),
    "ArnEquals": (_Arn.parse, lambda p, v: p.matches(v)),
    "ArnLike": (_Arn.parse, lambda p, v: p.matches(v)),
}
#: Negated operators: the positive operator they deny.
_NEGATED = {"StringNotEquals": "StringEquals", "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
            "StringNotLike": "StringLike", "NumericNotEquals": "NumericEquals", "DateNotEquals": "DateEquals",
            "NotIpAddress": "IpAddress", "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike"}
OPERATORS = frozenset([*_POSITIVE, *_NEGATED, "Null"])


@dataclass(frozen=True)
class Condition:
    """One key under one operator, with the policy's values already parsed."""

    operator: str  # as written
    key: str  # lower-cased: IAM's keys are case-insensitive
    base: str
    negated: bool
    if_exists: bool
    quantifier: str | None  # "ForAnyValue", "ForAllValues" or None
    values: tuple[Any, ...]

    def holds(self, context: Context) -> bool:
        present = self.key in context
        if self.base == "Null":
            return any(value == (not present) for value in self.values)
        found = context.get(self.key)
        requested = [found] if isinstance(found, str) else list(found or ())
        if not requested:
            if self.quantifier == "ForAllValues":
                return True
            return self.if_exists or (self.negated and self.quantifier is None)
        if self.quantifier == "ForAnyValue":
            return any(self._one(value) for value in requested)
        if self.quantifier == "ForAllValues":
            return all(self._one(value) for value in requested)
        matched = any(self._matches(value) for value in requested)
        return not matched if self.negated else matched

    def _matches(self, request_value: str) -> bool:
        holds = _POSITIVE[self.base][1]
        return any(holds(policy_value, request_value) for policy_value in self.values)

    def _one(self, request_value: str) -> bool:
        return self._matches(request_value) != self.negated


def parse_operator(name: str) -> tuple[str | None, str, bool]:
    """``ForAnyValue:StringLikeIfExists`` -> ("ForAnyValue", "StringLike", True)."""
    quantifier, _, rest = name.rpartition(":")
    if quantifier not in ("", "ForAnyValue", "ForAllValues"):
        raise ConditionError(f"unknown set operator {quantifier!r} (ForAnyValue or ForAllValues)")
    if_exists = rest.endswith("IfExists") and rest != "IfExists"
    base = rest[: -len("IfExists")] if if_exists else rest
    if base not in OPERATORS:
        raise ConditionError(f"unknown operator {name!r}")
    if base == "Null" and (if_exists or quantifier):
        raise ConditionError(f"{name!r}: Null takes neither IfExists nor a set operator")
    return quantifier or None, base, if_exists


def compile_condition(*, operator: str, key: str, values: Sequence[str]) -> Condition:
    quantifier, base, if_exists = parse_operator(operator)
    negated = base in _NEGATED
    positive = _NEGATED.get(base, base)
    parse: Callable[[str], Any] = _bool if base == "Null" else _POSITIVE[positive][0]
    parsed = []
    for value in values:
        result = parse(value)
        if result is None:
            raise ConditionError(f"{operator} {key}: {value!r} is not a valid value for this operator")
        parsed.append(result)
    return Condition(operator=operator, key=key.lower(), base=positive if base != "Null" else "Null",
                     negated=negated, if_exists=if_exists, quantifier=quantifier, values=tuple(parsed))
