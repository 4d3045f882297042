"""Policy documents in IAM's grammar, checked and compiled once into an immutable form.

``compile_document`` is the only way in: it checks every element of a JSON document and
answers ``MalformedPolicyDocument`` (a 400, as IAM's ``MalformedPolicyDocumentException``)
whose message names the offending place, ``Statement[2].Condition: unknown operator ...``.
What it returns (``Policy`` of ``Statement``s) holds compiled wildcards and parsed condition
values, so evaluating a request does no parsing at all.

Identity policies (customer-managed and shipped ones) must not name a ``Principal``;
resource policies (a function's, from AddPermission) must. Action names are matched without
regard to case, as IAM does; ARNs and condition values as their operators say.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from lambent.errors import UserError
from lambent.iam.policies.conditions import Condition, ConditionError, compile_condition, glob

VERSION = "2012-10-17"
#: IAM's limit for a customer-managed policy: characters, whitespace not counted.
MAX_CHARACTERS = 6144
_ACTION = re.compile(r"^(\*|[A-Za-z0-9-]+:[A-Za-z0-9*?]+)$")
#: IAM's Sids are letters and digits; Lambda's AddPermission also allows '-' and '_'.
_SID = {"identity": re.compile(r"^[A-Za-z0-9]*$"), "resource": re.compile(r"^[A-Za-z0-9_-]*$")}
_TOP_KEYS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset({"Sid", "Effect", "Principal", "Action", "NotAction", "Resource", "NotResource",
                             "Condition"})
#: Condition keys this platform fills in (a request may lack any of them); tag keys take a suffix.
CONDITION_KEYS = frozenset({"aws:sourceip", "aws:currenttime", "aws:epochtime", "aws:principalaccount",
                            "aws:principalarn", "aws:sourcearn", "aws:sourceaccount", "aws:principalorgid",
                            "aws:securetransport", "aws:tagkeys", "lambda:functionarn",
                            "lambda:functionurlauthtype", "lambda:eventsourcetoken"})
TAG_KEY_PREFIXES = ("aws:requesttag/", "aws:resourcetag/")

Kind = Literal["identity", "resource"]


class MalformedPolicyDocument(UserError):
    status_code = 400
    error_type = "MalformedPolicyDocumentException"


@dataclass(frozen=True)
class Statement:
    """One compiled statement. ``principals`` is None in identity policies; in resource policies it
    holds ``"*"`` or the ARNs named (``arn:aws:iam::<account>:root`` for a whole account)."""

    index: int
    sid: str
    effect: Literal["Allow", "Deny"]
    actions: tuple[re.Pattern[str], ...]
    not_action: bool
    resources: tuple[re.Pattern[str], ...]
    not_resource: bool
    conditions: tuple[Condition, ...]
    principals: tuple[str, ...] | None = None

    @property
    def label(self) -> str:
        """How a decision names it: its Sid, else its place."""
        return self.sid or f"Statement[{self.index}]"

    def applies_to(self, *, action: str, resource: str) -> bool:
        in_actions = any(p.match(action) for p in self.actions)
        in_resources = any(p.match(resource) for p in self.resources)
        return in_actions != self.not_action and in_resources != self.not_resource


@dataclass(frozen=True)
class Policy:
    name: str
    statements: tuple[Statement, ...]


def load_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise MalformedPolicyDocument(f"The policy is not valid JSON: {exc}") from None


def compile_document(document: Any, *, name: str, kind: Kind = "identity") -> Policy:
    """The compiled policy; raises ``MalformedPolicyDocument`` naming the first problem found."""
    if isinstance(document, str):
        document = load_json(document)
    if not isinstance(document, dict):
        raise MalformedPolicyDocument("The policy must be a JSON object.")
    if kind == "identity" and len(re.sub(r"\s", "", json.dumps(document))) > MAX_CHARACTERS:
        raise MalformedPolicyDocument(f"The policy is over {MAX_CHARACTERS} characters (whitespace not counted).")
    unknown = sorted(set(document) - _TOP_KEYS)
    if unknown:
        raise MalformedPolicyDocument(f"Unknown element {unknown[0]!r} (a policy has Version, Id and Statement).")
    if document.get("Version") != VERSION:
        raise MalformedPolicyDocument(f"Version: must be {VERSION!r}.")
    raw = document.get("Statement")
    items = [raw] if isinstance(raw, dict) else raw
    if not isinstance(items, list) or not items:
        raise MalformedPolicyDocument("Statement: must be a statement object or a non-empty list of them.")
    statements = tuple(_statement(item, index=i, kind=kind) for i, item in enumerate(items))
    sids = [s.sid for s in statements if s.sid]
    if len(sids) != len(set(sids)):
        raise MalformedPolicyDocument("Statement: Sid values must be unique within a policy.")
    return Policy(name=name, statements=statements)


def _statement(raw: Any, *, index: int, kind: Kind) -> Statement:
    where = f"Statement[{index}]"
    if not isinstance(raw, dict):
        raise MalformedPolicyDocument(f"{where}: must be an object.")
    unknown = sorted(set(raw) - _STATEMENT_KEYS)
    if unknown:
        raise MalformedPolicyDocument(f"{where}: unknown element {unknown[0]!r}.")
    sid = raw.get("Sid", "")
    if not isinstance(sid, str) or not _SID[kind].match(sid):
        raise MalformedPolicyDocument(f"{where}.Sid: letters and digits only.")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise MalformedPolicyDocument(f"{where}.Effect: must be \"Allow\" or \"Deny\".")
    actions, not_action = _either(raw, "Action", "NotAction", where=where)
    resources, not_resource = _either(raw, "Resource", "NotResource", where=where)
    for action in actions:
        if not _ACTION.match(action):
            raise MalformedPolicyDocument(f"{where}.Action: {action!r} is not <service>:<action> or *.")
    for resource in resources:
        if resource != "*" and not resource.startswith("arn:"):
            raise MalformedPolicyDocument(f"{where}.Resource: {resource!r} is neither an ARN nor *.")
    return Statement(
        index=index, sid=sid, effect=effect, not_action=not_action, not_resource=not_resource,
        actions=tuple(glob(a, ignore_case=True) for a in actions),
        resources=tuple(glob(r) for r in resources),
        conditions=_conditions(raw.get("Condition"), where=f"{where}.Condition"),
        principals=_principals(raw, where=where, kind=kind),
    )


def _strings(value: Any, *, where: str) -> list[str]:
    """A string or a non-empty list of strings; numbers and booleans are read as IAM reads them."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise MalformedPolicyDocument(f"{where}: must not be empty.")
    found = []
    for item in items:
        if isinstance(item, bool):
            found.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            found.append(str(item))
        else:
            raise MalformedPolicyDocument(f"{where}: {json.dumps(item)} is not a string.")
    return found


def _either(raw: Mapping[str, Any], name: str, negated: str, *, where: str) -> tuple[list[str], bool]:
    if (name in raw) == (negated in raw):
        raise MalformedPolicyDocument(f"{where}: exactly one of {name} or {negated} is required.")
    key = name if name in raw else negated
    return _strings(raw[key], where=f"{where}.{key}"), key == negated


def _conditions(raw: Any, *, where: str) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise MalformedPolicyDocument(f"{where}: must be an object of operators.")
    compiled = []
    for operator, block in raw.items():
        if not isinstance(block, dict) or not block:
            raise MalformedPolicyDocument(f"{where}.{operator}: must be a non-empty object of keys.")
        for key, values in block.items():
            _check_key(key, where=f"{where}.{operator}")
            try:
                compiled.append(compile_condition(operator=operator, key=key,
                                                  values=_strings(values, where=f"{where}.{operator}.{key}")))
            except ConditionError as exc:
                raise MalformedPolicyDocument(f"{where}: {exc}") from None
    return tuple(compiled)


def _check_key(key: str, *, where: str) -> None:
    lowered = key.lower()
    if lowered in CONDITION_KEYS:
        return
    if any(lowered.startswith(p) and len(lowered) > len(p) for p in TAG_KEY_PREFIXES):
        return
    raise MalformedPolicyDocument(f"{where}: unknown condition key {key!r}.")


def _principals(raw: Mapping[str, Any], *, where: str, kind: Kind) -> tuple[str, ...] | None:
    if kind == "identity":
        if "Principal" in raw:
            raise MalformedPolicyDocument(f"{where}: an identity-based policy must not name a Principal.")
        return None
    principal = raw.get("Principal")
    if principal == "*":
        return ("*",)
    if not isinstance(principal, dict) or not principal or set(principal) - {"AWS", "Service"}:
        raise MalformedPolicyDocument(f"{where}.Principal: \"*\" or an object of AWS and Service principals.")
    found = []
    if "AWS" in principal:
        for value in _strings(principal["AWS"], where=f"{where}.Principal.AWS"):
            found.append(f"arn:aws:iam::{value}:root" if re.fullmatch(r"\d{12}", value) else value)
    if "Service" in principal:
        found.extend(f"service:{s}" for s in _strings(principal["Service"], where=f"{where}.Principal.Service"))
    return tuple(found)
