"""The registry of runtimes a function may name.

A runtime knows how to check a handler against the files of a code package before the
code is accepted, so a typo fails the upload instead of the first invocation. Which
interpreter runs it is the executor's business, not the control plane's.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Runtime:
    identifier: str

    def handler_problem(self, handler: str, files: Collection[str]) -> str | None:
        """What is wrong with ``handler`` for code holding ``files``, or None."""
        return None


@dataclass(frozen=True)
class PythonRuntime(Runtime):
    """``module.function``; the module may sit in folders (``pkg.mod`` or ``pkg/mod``)."""

    def handler_problem(self, handler: str, files: Collection[str]) -> str | None:
        module, _, function = handler.rpartition(".")
        if not module or not _IDENTIFIER.match(function):
            return f"Handler {handler!r} must be '<module>.<function>', for example 'app.handler'."
        path = module.replace(".", "/")
        if f"{path}.py" not in files and f"{path}/__init__.py" not in files:
            return f"Handler {handler!r} names module {module!r}, but the code has no {path}.py."
        return None


@dataclass(frozen=True)
class ProvidedRuntime(Runtime):
    """A custom runtime: the code brings an executable ``bootstrap`` that speaks the Runtime API."""

    def handler_problem(self, handler: str, files: Collection[str]) -> str | None:
        if "bootstrap" not in files:
            return "A provided runtime needs an executable file named 'bootstrap' at the root of the code."
        return None


RUNTIMES: dict[str, Runtime] = {
    runtime.identifier: runtime
    for runtime in (
        PythonRuntime("python3.11"),
        PythonRuntime("python3.12"),
        PythonRuntime("python3.13"),
        ProvidedRuntime("provided"),
        ProvidedRuntime("provided.al2023"),
    )
}


def runtime_get(identifier: str) -> Runtime | None:
    return RUNTIMES.get(identifier)
