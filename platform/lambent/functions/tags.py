"""A function's tags (Lambda's TagResource, UntagResource, ListTags), with Lambda's limits: at most
50, keys of 1-128 characters that do not start with ``aws:``, values of at most 256."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.db import transaction

from lambent.errors import InvalidParameter
from lambent.functions import limits, selectors
from lambent.functions.models import Function
from lambent.iam.models import Tenant


def tags_problems(tags: Mapping[str, object]) -> list[str]:
    found = []
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= limits.TAG_KEY_MAX or key.lower().startswith("aws:"):
            found.append(f"Tag key {key!r} must be 1-{limits.TAG_KEY_MAX} characters and not start with 'aws:'.")
        if not isinstance(value, str) or len(value) > limits.TAG_VALUE_MAX:
            found.append(f"The value of tag {key!r} must be a string of at most {limits.TAG_VALUE_MAX} characters.")
    return found


def tags_set(*, tenant: Tenant, function_name: str, tags: Mapping[str, str]) -> Function:
    """Add or replace the given tags, keeping the others."""
    with transaction.atomic():
        function = selectors.function_for_update(tenant=tenant, name=function_name)
        merged = {**function.tags, **tags}
        found = tags_problems(tags)
        if len(merged) > limits.TAGS_MAX:
            found.append(f"A function has at most {limits.TAGS_MAX} tags; this would make {len(merged)}.")
        if found:
            raise InvalidParameter(fields={"tags": found})
        function.tags = merged
        function.save(update_fields=["tags"])
    return function


def tags_remove(*, tenant: Tenant, function_name: str, keys: Iterable[str]) -> Function:
    with transaction.atomic():
        function = selectors.function_for_update(tenant=tenant, name=function_name)
        function.tags = {key: value for key, value in function.tags.items() if key not in set(keys)}
        function.save(update_fields=["tags"])
    return function

