"""Cursor pagination for every list endpoint.

A cursor stays correct while items are added or removed between pages, which offsets
do not. Each view names its ordering (a unique field within the tenant); clients pass
``?page_size=`` (1 to ``max_page_size``) and follow ``next``. A page size or a cursor that
is not one is a 400, never ignored: a client that sent ``page_size=true`` would otherwise
read pages of a size it did not ask for without being told.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.views import APIView

#: What a cursor is made of: base64, as DRF writes it.
CURSOR = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
INVALID_CURSOR = "Not a cursor this API returned: follow the next or previous link of a page."


class CursorPagination(pagination.CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = "pk"

    def get_page_size(self, request: Request) -> int:
        given = request.query_params.get(self.page_size_query_param)
        if given is None:
            return self.page_size
        if not (given.isascii() and given.isdigit()) or not 1 <= int(given) <= self.max_page_size:
            raise ValidationError({self.page_size_query_param: [
                f"page_size must be a whole number from 1 to {self.max_page_size}, got {given!r}."]})
        return int(given)

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        return [
            {"name": self.cursor_query_param, "required": False, "in": "query",
             "description": "The cursor of the next or previous link of a page (anything else is a 400).",
             "schema": {"type": "string", "pattern": CURSOR.pattern}},
            {"name": self.page_size_query_param, "required": False, "in": "query",
             "description": f"Results per page, {self.page_size} by default.",
             "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size}},
        ]

    def decode_cursor(self, request: Request) -> pagination.Cursor | None:
        given = request.query_params.get(self.cursor_query_param)
        if given is not None and not CURSOR.fullmatch(given):  # base64 would skip what is not of its alphabet
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]})
        try:
            cursor = super().decode_cursor(request)
        except NotFound:  # DRF's answer to a bad cursor; it is the request that is wrong
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from None
        if cursor is not None and "\x00" in str(cursor.position):
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]})
        return cursor

    def paginate_queryset(self, queryset: QuerySet | Sequence[Any], request: Request,
                          view: APIView | None = None) -> list[Any]:
        try:
            return list(super().paginate_queryset(queryset, request, view) or [])
        except (ValueError, TypeError, DjangoValidationError):
            # A cursor that decodes but whose position is no value of the ordering field.
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from None
