"""The base of every serializer that reads a request: JSON types are taken as they are, never coerced.

DRF's fields are lenient on purpose (an ``IntegerField`` takes ``"5"`` and ``5.0``, a
``CharField`` takes ``975``, a ``BooleanField`` takes ``"yes"``), which made the API accept
what its schema forbids: ``{"name": 975}`` created queue ``"975"``. A value of the wrong JSON
type is refused here, naming the field, before the fields parse anything. Form fields and
query parameters are text by nature; there only the canonical spelling of a number
(``-?[0-9]+``) or a boolean (``true``, ``false``) is taken.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.http import QueryDict
from rest_framework import serializers
from rest_framework.fields import Field

_INTEGER = re.compile(r"-?[0-9]+")


def _json_problem(field: Field, value: Any) -> Any:
    """What is wrong with the JSON type of ``value`` for ``field``: a message, nested problems, or None."""
    if value is None:
        return None  # the field says whether it may be null
    if isinstance(field, serializers.BaseSerializer):
        return _problems(field.fields, value) or None  # type: ignore[attr-defined]
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, serializers.IntegerField):
        return None if isinstance(value, int) and not isinstance(value, bool) else "Must be an integer."
    if isinstance(field, serializers.FloatField):
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else "Must be a number."
    if isinstance(field, (serializers.CharField, serializers.UUIDField, serializers.DateTimeField)):
        return None if isinstance(value, str) else "Must be a string."
    if isinstance(field, serializers.DictField):
        if not isinstance(value, dict):
            return "Must be an object."
        found = {key: problem for key, item in value.items() if (problem := _json_problem(field.child, item))}
        return found or None
    return None


def _form_problem(field: Field, value: Any) -> str | None:
    if isinstance(field, serializers.BooleanField) and value not in ("true", "false"):
        return "Must be true or false."
    if isinstance(field, serializers.IntegerField) and not _INTEGER.fullmatch(str(value)):
        return "Must be an integer."
    return None


def _problems(fields: Mapping[str, Field], data: Any) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        return {}  # DRF says what it expected
    form = isinstance(data, QueryDict)
    found: dict[str, Any] = {}
    for name, field in fields.items():
        if field.read_only or name not in data:
            continue
        problem = _form_problem(field, data[name]) if form else _json_problem(field, data[name])
        if problem:
            found[name] = problem if isinstance(problem, dict) else [problem]
    return found


class StrictInput:
    """Mixed into a serializer (before DRF's class): refuse values of the wrong type."""

    fields: Any

    def to_internal_value(self, data: Any) -> Any:
        problems = _problems(self.fields, data)
        if problems:
            raise serializers.ValidationError(problems)
        return super().to_internal_value(data)  # type: ignore[misc]


class StrictSerializer(StrictInput, serializers.Serializer):
    pass
