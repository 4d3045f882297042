"""Typed readers for the ``LAMBENT_*`` environment variables.

Settings are 12-factor: every knob is an environment variable read here, once, by
``lambent.settings``. Each reader names the variable in its error, so a typo in a
deployment fails at start-up with a message that says what to fix, not later with a
confusing traceback.

Secrets also accept ``<NAME>_FILE``: the path of a file holding the value (Kubernetes
and Docker secrets are mounted as files). Setting both is an error, because one of
them would be silently ignored.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import overload

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


@overload
def env_str(name: str, *, default: str) -> str: ...
@overload
def env_str(name: str, *, default: None = None) -> str | None: ...
def env_str(name: str, *, default: str | None = None) -> str | None:
    value = _raw(name)
    return default if value is None else value


def env_int(name: str, *, default: int, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    return number


def env_float(name: str, *, default: float, minimum: float | None = None) -> float:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    return number


def env_bool(name: str, *, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {value!r}")


def env_list(name: str, *, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_mapping(name: str) -> dict[str, str]:
    """``key=value,key=value`` as a dict; an item without ``=`` is an error."""
    mapping = {}
    for item in env_list(name, default=[]):
        key, separator, value = item.partition("=")
        if not separator or not key.strip() or not value.strip():
            raise ImproperlyConfigured(f"{name} must be key=value pairs separated by commas, got {item!r}")
        mapping[key.strip()] = value.strip()
    return mapping


def env_choice(name: str, *, choices: tuple[str, ...], default: str) -> str:
    value = _raw(name) or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def env_path(name: str, *, default: Path) -> Path:
    value = _raw(name)
    return (Path(value) if value is not None else default).expanduser().resolve()


def env_secret(name: str) -> str | None:
    """The value of ``name`` or the content of the file named by ``name_FILE``."""
    direct = _raw(name)
    file_name = _raw(f"{name}_FILE")
    if direct is not None and file_name is not None:
        raise ImproperlyConfigured(f"set {name} or {name}_FILE, not both")
    if file_name is None:
        return direct
    try:
        content = Path(file_name).read_text().strip()
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}_FILE: cannot read {file_name}: {exc.strerror}") from None
    if not content:
        raise ImproperlyConfigured(f"{name}_FILE: {file_name} is empty")
    return content


def local_secret(path: Path, *, generate: Callable[[], str]) -> str:
    """A secret kept in a file of the data directory, generated on first use.

    Only the one-machine setup uses this; production refuses to start without the
    secret given explicitly, so that every replica shares the same one. The file is
    written aside and linked into place, so processes starting at once agree on one value.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, staged = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(generate())
            os.link(staged, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(staged)
    return path.read_text().strip()


def parse_bind(bind: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` (a ``*_BIND`` setting) as (host, port)."""
    host, separator, port = bind.rpartition(":")
    if not separator or not port.isdigit() or not host:
        raise ImproperlyConfigured(f"expected host:port, got {bind!r}")
    return host.strip("[]"), int(port)
