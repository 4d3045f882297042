"""What bodies the native API reads and writes: JSON, and multipart where code is uploaded.

Requests are parsed by ``lambent.jsonbody`` (a nesting limit, no NUL, no lone surrogate), so
no body can crash a view. Every answer is JSON whatever ``Accept`` asks for: the API has
nothing else to offer, and a 406 for ``Accept: text/html`` would only hide the error a
client needs to see.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import IO, Any

from rest_framework import negotiation, parsers
from rest_framework.exceptions import ParseError
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

from lambent import jsonbody


class JSONParser(parsers.JSONParser):
    def parse(self, stream: IO[bytes], media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        encoding = parsers.get_encoding(parser_context or {})  # type: ignore[attr-defined]
        try:
            return jsonbody.parse_text_document(stream.read().decode(encoding))
        except ValueError as exc:  # UnicodeDecodeError included
            raise ParseError(f"JSON parse error - {exc}") from None


class JSONOnly(negotiation.DefaultContentNegotiation):
    def select_renderer(self, request: Request, renderers: Iterable[BaseRenderer],
                        format_suffix: str | None = None) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type
