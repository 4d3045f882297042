"""A function's configuration and the rules it must follow.

``FunctionConfiguration`` is the part of a version a tenant chooses (everything but the
code). ``problems`` checks it against ``limits`` and the runtime registry and names every
offending field at once, so one request shows the caller everything to fix.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from lambent.errors import InvalidParameter
from lambent.functions import limits
from lambent.functions.runtimes import RUNTIMES, runtime_get

FIELDS = ("runtime", "handler", "memory_size", "timeout", "ephemeral_storage", "description", "environment", "role")


@dataclass(frozen=True)
class FunctionConfiguration:
    runtime: str
    handler: str
    memory_size: int = limits.MEMORY_DEFAULT_MB
    timeout: int = limits.TIMEOUT_DEFAULT_S
    ephemeral_storage: int = limits.EPHEMERAL_DEFAULT_MB
    description: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    role: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def fingerprint(self, *, code_sha256: str) -> str:
        """Identifies code plus configuration: publishing an unchanged one is a no-op."""
        canonical = json.dumps({**self.as_dict(), "code_sha256": code_sha256}, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def validate(self) -> None:
        found = problems(self)
        if found:
            raise InvalidParameter(fields=found)


def _range(name: str, value: int, low: int, high: int, unit: str) -> list[str]:
    if low <= value <= high:
        return []
    return [f"{name} must be between {low} and {high} {unit}, got {value}."]


def problems(config: FunctionConfiguration) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {
        "runtime": _runtime_problems(config.runtime),
        "handler": _handler_problems(config.handler),
        "memory_size": _range("memory_size", config.memory_size, limits.MEMORY_MIN_MB, limits.MEMORY_MAX_MB, "MB"),
        "timeout": _range("timeout", config.timeout, limits.TIMEOUT_MIN_S, limits.TIMEOUT_MAX_S, "seconds"),
        "ephemeral_storage": _range(
            "ephemeral_storage", config.ephemeral_storage, limits.EPHEMERAL_MIN_MB, limits.EPHEMERAL_MAX_MB, "MB"
        ),
        "description": description_problems(config.description),
        "environment": environment_problems(config.environment),
        "role": _role_problems(config.role),
    }
    return {name: messages for name, messages in found.items() if messages}


def _runtime_problems(runtime: str) -> list[str]:
    if runtime_get(runtime) is None:
        return [f"Unknown runtime {runtime!r}; valid runtimes are {', '.join(sorted(RUNTIMES))}."]
    return []


def _handler_problems(handler: str) -> list[str]:
    if not re.fullmatch(limits.HANDLER_PATTERN, handler):
        return [f"handler must be 1-{limits.HANDLER_MAX} printable ASCII characters without spaces."]
    return []


def _role_problems(role: str) -> list[str]:
    if role and not re.fullmatch(limits.ROLE_PATTERN, role):
        return [f"role {role!r} is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)."]
    return []


def description_problems(description: str) -> list[str]:
    if len(description) > limits.DESCRIPTION_MAX:
        return [f"description must be at most {limits.DESCRIPTION_MAX} characters, got {len(description)}."]
    return []


def environment_problems(environment: dict[str, str]) -> list[str]:
    found = []
    for key, value in environment.items():
        if not re.fullmatch(limits.ENVIRONMENT_KEY_PATTERN, key):
            found.append(f"Variable name {key!r} must be a letter followed by letters, digits or '_'.")
        elif key in limits.RESERVED_ENVIRONMENT_KEYS:
            found.append(f"Variable name {key!r} is reserved by the platform.")
        if not isinstance(value, str):
            found.append(f"The value of {key!r} must be a string.")
    size = sum(len(key.encode()) + len(str(value).encode()) for key, value in environment.items())
    if size > limits.ENVIRONMENT_MAX_BYTES:
        found.append(f"Variables take {size} bytes; the limit is {limits.ENVIRONMENT_MAX_BYTES} bytes.")
    return found
