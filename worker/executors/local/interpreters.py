"""The Python interpreters this node can run functions with, one per ``pythonX.Y`` runtime.

A sandbox sees only what is bind-mounted into it, so the executor must know, for each
runtime, which host binary to run and which host directories that binary needs: its
installation prefix (``sys.base_prefix``) unless it lives under ``/usr``, which every
sandbox mounts anyway. Asking the interpreter itself (``-I -S``: no site, no environment)
is the only reliable way to learn its version, prefix and real executable path.

Candidates, first usable one wins: the operator's override for the runtime (a broken
override is an error, never silently replaced), ``/usr/bin/python3.X``,
``/usr/local/bin/python3.X``, then ``$PYENV_ROOT/versions/3.X.*/bin/python3.X`` (default
``~/.pyenv``), highest patch release first. Only ELF binaries qualify: pyenv *shims* are
bash scripts that pick a version from the caller's environment and cannot work in a
sandbox without ``bash``, pyenv and that environment.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

RUNTIMES = ("python3.11", "python3.12", "python3.13")
_RUNTIME = re.compile(r"^python(\d+)\.(\d+)$")
_PROBE = (
    "import json, os, sys; "
    "print(json.dumps([sys.version_info[:2], sys.base_prefix, os.path.realpath(sys.executable)]))"
)
_PROBE_TIMEOUT_SECONDS = 10
_SANDBOX_USR = Path("/usr")


class InterpreterError(Exception):
    """An override names something that is not an interpreter of its runtime."""


@dataclass(frozen=True)
class Interpreter:
    """A host Python interpreter, as a sandbox needs to know it."""

    runtime: str
    executable: Path
    prefix: Path
    version: tuple[int, int]

    @property
    def mounts(self) -> tuple[Path, ...]:
        """Host paths to bind read-only at the same path in a sandbox: the prefix, and the
        executable's directory if it lies outside the prefix, unless under ``/usr``."""
        paths = [self.prefix]
        if not self.executable.is_relative_to(self.prefix):
            paths.append(self.executable.parent)
        return tuple(path for path in paths if not path.is_relative_to(_SANDBOX_USR))


def _version_of(runtime: str) -> tuple[int, int]:
    match = _RUNTIME.match(runtime)
    if match is None:
        raise InterpreterError(f"not a Python runtime name: {runtime!r}")
    return int(match[1]), int(match[2])


def _is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as binary:
            return binary.read(4) == b"\x7fELF"
    except OSError:
        return False


def probe(runtime: str, executable: Path) -> Interpreter:
    """Ask ``executable`` what it is; ``InterpreterError`` if it is not ``runtime``'s."""
    expected = _version_of(runtime)
    real = executable.resolve()
    if not real.is_file():
        raise InterpreterError(f"{executable} does not exist")
    if not _is_elf(real):
        raise InterpreterError(f"{executable} is not an ELF executable (a pyenv shim or a script?)")
    try:
        result = subprocess.run(
            [str(real), "-I", "-S", "-c", _PROBE], env={}, capture_output=True, timeout=_PROBE_TIMEOUT_SECONDS,
            check=True, cwd="/",
        )
        (major, minor), prefix, real_executable = json.loads(result.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as error:
        raise InterpreterError(f"{executable} does not run as a Python interpreter: {error}") from error
    if (major, minor) != expected:
        raise InterpreterError(f"{executable} is Python {major}.{minor}, not {runtime}")
    return Interpreter(runtime=runtime, executable=Path(real_executable), prefix=Path(prefix), version=expected)


def _pyenv_root() -> Path:
    return Path(os.environ.get("PYENV_ROOT") or "~/.pyenv").expanduser()


def _patch_level(version_dir: Path) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else -1 for part in version_dir.name.split("."))


def candidates(runtime: str) -> list[Path]:
    """Where ``runtime`` may be installed on this node, in order of preference."""
    major, minor = _version_of(runtime)
    name = f"python{major}.{minor}"
    found = [Path("/usr/bin") / name, Path("/usr/local/bin") / name]
    versions = _pyenv_root() / "versions"
    if versions.is_dir():
        pattern = re.compile(rf"^{major}\.{minor}\.\d+$")  # final releases only: no 3.13.0rc1, no 3.13t
        releases = [entry for entry in versions.iterdir() if pattern.match(entry.name)]
        found += [release / "bin" / name for release in sorted(releases, key=_patch_level, reverse=True)]
    return [path for path in found if path.is_file()]


def _find(runtime: str) -> Interpreter | None:
    for candidate in candidates(runtime):
        try:
            return probe(runtime, candidate)
        except InterpreterError:
            continue
    return None


@functools.cache
def _find_all(overrides: tuple[tuple[str, str], ...]) -> dict[str, Interpreter]:
    found: dict[str, Interpreter] = {}
    for runtime, executable in overrides:
        found[runtime] = probe(runtime, Path(executable))
    for runtime in RUNTIMES:
        if runtime not in found and (interpreter := _find(runtime)) is not None:
            found[runtime] = interpreter
    return found


def find_interpreters(overrides: Mapping[str, str | Path] | None = None) -> dict[str, Interpreter]:
    """The interpreter of each runtime available on this node, keyed by runtime name.

    ``overrides`` maps runtime names to executables that take precedence (and may add runtimes
    beyond ``RUNTIMES``). Results are cached per ``overrides`` for the life of the process:
    installing an interpreter takes an executor restart to be seen.
    """
    key = tuple(sorted((runtime, str(path)) for runtime, path in (overrides or {}).items()))
    return dict(_find_all(key))
