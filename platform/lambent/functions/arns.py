"""Naming a function as Lambda accepts it: a name, a partial ARN or a full ARN, each with an
optional qualifier (``my-fn``, ``my-fn:live``, ``123456789012:function:my-fn``,
``arn:aws:lambda:us-east-1:123456789012:function:my-fn:3``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings

from lambent.errors import InvalidParameter

_REFERENCE = re.compile(
    r"^(?:(?:arn:(?P<partition>[a-z0-9-]+):lambda:(?P<region>[a-z0-9-]+):)?(?P<account>[0-9]{12}):function:)?"
    r"(?P<name>[A-Za-z0-9_-]{1,64})(?::(?P<qualifier>\$LATEST|[A-Za-z0-9_-]{1,128}))?$"
)
#: What a reference looks like, for a schema to state (the partition and region are checked after);
#: without the group names, which JSON Schema's regular expressions do not have.
REFERENCE_PATTERN = re.sub(r"\?P<\w+>", "", _REFERENCE.pattern)


@dataclass(frozen=True)
class FunctionReference:
    name: str
    qualifier: str | None
    account_id: str | None
    """Set when the reference was an ARN: the account it names."""


def parse_function_reference(value: str, *, field: str = "function_name") -> FunctionReference:
    """The function ``value`` names; an ARN of another partition or region is invalid here."""
    match = _REFERENCE.fullmatch(value)
    if match is None:
        raise InvalidParameter.field(field, f"{value!r} is not a function name or function ARN.")
    if match["partition"] and (match["partition"], match["region"]) != (settings.ARN_PARTITION, settings.REGION):
        raise InvalidParameter.field(
            field, f"{value!r} names another partition or region than this one "
                   f"({settings.ARN_PARTITION}, {settings.REGION}).")
    return FunctionReference(name=match["name"], qualifier=match["qualifier"], account_id=match["account"])
