"""JSON for the frame headers through CPython's C accelerator, without importing ``json``.

``import json`` pulls in ``re`` and ``enum`` and costs more than the interpreter's own start-up;
the agent reads and writes JSON on every frame but needs none of that. ``_json`` holds the very
scanner and encoder ``json`` runs, so values and text come out the same as ``json.loads`` and
``json.dumps(..., separators=(",", ":"))``. Whatever the fast path refuses is handed to ``json``
itself (imported only then), which decodes it or raises its usual ``JSONDecodeError``.
"""

import _json

_WHITESPACE = " \t\n\r"


class _Defaults:
    """What ``_json.make_scanner`` reads from a ``json.JSONDecoder``: its defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # "NaN", "Infinity" and "-Infinity", as json reads them


_scan = _json.make_scanner(_Defaults())  # type: ignore[arg-type]  # duck-typed, as the stub says


def _refuse(value: object) -> object:
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


_encode = _json.make_encoder(None, _refuse, _json.encode_basestring_ascii, None, ":", ",", False, False, True)


def dumps(value: object) -> str:
    """Compact, ASCII-only JSON. No check for circular references: frame headers are flat."""
    return "".join(_encode(value, 0))


def loads(data: "str | bytes") -> object:
    """Like ``json.loads``; ``ValueError`` (a ``JSONDecodeError``) if ``data`` is not JSON."""
    try:
        text = data if isinstance(data, str) else data.decode()
        start = len(text) - len(text.lstrip(_WHITESPACE)) if text[:1] in _WHITESPACE else 0
        value, end = _scan(text, start)
        if end == len(text) or not text[end:].strip(_WHITESPACE):
            return value
    except Exception:  # noqa: S110 - json below says what is wrong, in its own words
        pass
    import json

    return json.loads(data)
