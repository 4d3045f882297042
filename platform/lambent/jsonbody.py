"""JSON from callers, parsed so that no document can break the parser or what comes after it.

Python's ``json`` recurses once per level of nesting: a 2 KB body of a thousand nested arrays
raised ``RecursionError`` in the middle of a view (a 500), and a document just shallow enough
for the api could still be too deep for the worker that later reads it at a deeper stack.
So every document is held to ``MAX_DEPTH`` levels, the same everywhere; nesting is counted
only when the document has that many brackets at all, which a usual one has not. ``NaN`` and
``Infinity`` are not JSON and are refused, as the Lambda API refuses them.

Documents whose strings end up stored (the bodies of both APIs, as opposed to an invocation's
event, which is handed to the function as it came) are ``parse_text_document``'s: no NUL
character (PostgreSQL's text cannot hold one) and no lone surrogate (not Unicode, so not UTF-8).
"""

from __future__ import annotations

import json
import re
from typing import Any

#: The deepest nesting of arrays and objects a document may have.
MAX_DEPTH = 512

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def parse(data: bytes | str) -> Any:
    """The JSON document in ``data``; ``ValueError`` (its message fit for the caller) if it is not
    one, or is nested deeper than ``MAX_DEPTH``."""
    try:
        value = json.loads(data, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError(f"the document is nested more than {MAX_DEPTH} levels deep") from None
    brackets = data.count(b"[") + data.count(b"{") if isinstance(data, bytes) else data.count("[") + data.count("{")
    if brackets > MAX_DEPTH and _deeper_than(value, MAX_DEPTH):
        raise ValueError(f"the document is nested more than {MAX_DEPTH} levels deep")
    return value


def parse_text_document(data: bytes | str) -> Any:
    """As ``parse``, and every string of the document is text a database can store."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    value = parse(text)
    if "\\u0000" in text:
        raise ValueError("the document holds a NUL character (\\u0000), which no field accepts")
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("the document holds a lone surrogate (\\ud800-\\udfff), which is not Unicode") from None
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests more than ``limit`` levels of arrays and objects, level by level (no recursion)."""
    level = [value] if isinstance(value, (list, dict)) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below: list[Any] = []
        for container in level:
            items = container.values() if isinstance(container, dict) else container
            below.extend(item for item in items if isinstance(item, (list, dict)))
        level = below
    return False
