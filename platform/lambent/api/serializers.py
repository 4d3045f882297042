"""The base of every serializer that reads a request: JSON types are taken as they are, never coerced,
and nothing the request holds is ignored.

DRF's fields are lenient on purpose (an ``IntegerField`` takes ``"5"``, a ``CharField`` takes
``975``, a ``BooleanField`` takes ``"yes"``), which made the API accept what its schema forbids:
``{"name": 975}`` created queue ``"975"``. A value of the wrong JSON type is refused here, naming
the field, before the fields parse anything; ``5.0`` is the integer 5, as JSON Schema counts
(JSON has one kind of number). Form fields and query parameters are text by nature; there only
the canonical spelling of a number (``-?[0-9]+``) or a boolean (``true``, ``false``) is taken,
and an empty one is refused where the field may not be blank (DRF would take it for absent).

A body is read whole: a field the serializer does not know is a 400 (a misspelt
``memroy_size`` was silently dropped), and so is a form field given twice (which of the two
would count?). The OpenAPI schema says the same (``additionalProperties: false``). A form
names a variable of a dictionary field ``<field>.<key>``, as DRF parses it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from django.http import QueryDict
from rest_framework import serializers
from rest_framework.fields import Field

_INTEGER = re.compile(r"-?[0-9]+")
UNKNOWN_FIELD = "Not a field of this request."
REPEATED_FIELD = "Given more than once."


class Pattern(RegexValidator):
    """A value the whole of which an anchored pattern (``^...$``) matches, as JSON Schema reads it;
    Django's ``RegexValidator`` searches, and its ``$`` also matches before a final newline, so
    ``"hello\\n"`` would pass for a function name. drf-spectacular puts the pattern in the schema."""

    def __call__(self, value: Any) -> None:
        if not isinstance(value, str) or not re.compile(self.regex).fullmatch(value):
            raise DjangoValidationError(self.message, code=self.code, params={"value": value})


def _json_problem(field: Field, value: Any) -> Any:
    """What is wrong with the JSON type of ``value`` for ``field``: a message, nested problems, or None."""
    if value is None:
        return None  # the field says whether it may be null
    if isinstance(field, serializers.BaseSerializer):
        return _problems(field.fields, value) or None  # type: ignore[attr-defined]
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, serializers.IntegerField):
        return None if _is_integer(value) else "Must be an integer."
    if isinstance(field, serializers.FloatField):
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else "Must be a number."
    if isinstance(field, (serializers.CharField, serializers.ChoiceField, serializers.UUIDField,
                          serializers.DateTimeField)):
        return None if isinstance(value, str) else "Must be a string."
    if isinstance(field, serializers.DictField):
        if not isinstance(value, dict):
            return "Must be an object."
        found = {key: problem for key, item in value.items() if (problem := _json_problem(field.child, item))}
        return found or None
    return None


def _is_integer(value: Any) -> bool:
    """An integer as JSON Schema counts them: ``5`` and ``5.0`` alike (one number in JSON), never ``true``."""
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())


def _form_problem(field: Field, value: Any) -> str | None:
    if isinstance(field, serializers.BooleanField) and value not in ("true", "false"):
        return "Must be true or false."
    if isinstance(field, serializers.IntegerField) and not _INTEGER.fullmatch(str(value)):
        return "Must be an integer."
    if value == "" and not getattr(field, "allow_blank", False):  # DRF would take it for a field not given
        return "May not be blank."
    return None


def _integral(fields: Mapping[str, Field], data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with the integral numbers of integer fields as ints (DRF reads ``1e3`` as no integer)."""
    return {name: int(value) if isinstance(value, float) and isinstance(fields.get(name), serializers.IntegerField)
            else value for name, value in data.items()}


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


def _unknown(fields: Mapping[str, Field], data: Mapping[str, Any]) -> dict[str, list[str]]:
    """The names ``data`` holds that are no writable field (nor, in a form, a key of a dictionary field)."""
    writable = {name for name, field in fields.items() if not field.read_only}
    form = isinstance(data, QueryDict)
    dictionaries = {name for name in writable if isinstance(fields[name], serializers.DictField)}

    def known(name: str) -> bool:
        if form:  # a dictionary field only by its keys, which DRF reads as <field>.<key>
            prefix, dot, key = name.partition(".")
            return (name in writable and name not in dictionaries) or bool(dot and key and prefix in dictionaries)
        return name in writable

    return {name: [UNKNOWN_FIELD] for name in data if not known(str(name))}


def _repeated(data: Mapping[str, Any]) -> dict[str, list[str]]:
    if not isinstance(data, QueryDict):
        return {}
    return {name: [REPEATED_FIELD] for name, values in data.lists() if len(values) > 1}


class StrictInput:
    """Mixed into a serializer (before DRF's class): refuse values of the wrong type, fields it does
    not know and form fields given twice. ``allow_unknown`` serializers read a query string, which
    carries parameters of other readers too (``cursor``, ``page_size``)."""

    fields: Any
    allow_unknown = False

    def to_internal_value(self, data: Any) -> Any:
        problems = _problems(self.fields, data)
        if isinstance(data, Mapping):
            problems = {**_repeated(data), **({} if self.allow_unknown else _unknown(self.fields, data)), **problems}
        if problems:
            raise serializers.ValidationError(problems)
        if isinstance(data, dict) and not isinstance(data, QueryDict):  # a form keeps its QueryDict, for DRF
            data = _integral(self.fields, data)
        return super().to_internal_value(data)  # type: ignore[misc]


class StrictSerializer(StrictInput, serializers.Serializer):
    pass


class MappingField(serializers.DictField):
    """A JSON object whose keys match ``key_pattern`` and are none of ``reserved``, at most ``max_keys``
    of them (``lambent.api.schema`` states all three: ``propertyNames``, ``maxProperties``)."""

    def __init__(self, *, key_pattern: str, key_message: str, max_keys: int | None = None,
                 reserved: frozenset[str] = frozenset(), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key_pattern, self.key_message, self.max_keys, self.reserved = key_pattern, key_message, max_keys, reserved

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value: dict[str, Any] = super().to_internal_value(data)
        problems = [f"{key!r}: {self.key_message}" for key in value if not re.fullmatch(self.key_pattern, key)]
        problems += [f"{key!r} is reserved by the platform." for key in value if key in self.reserved]
        if self.max_keys is not None and len(value) > self.max_keys:
            problems.append(f"At most {self.max_keys} entries.")
        if problems:
            raise serializers.ValidationError(problems)
        return value
