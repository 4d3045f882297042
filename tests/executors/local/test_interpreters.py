"""Finding this node's Python interpreters, for real: it has pyenv builds and Debian's 3.11."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.executors.local.interpreters import (
    RUNTIMES,
    Interpreter,
    InterpreterError,
    candidates,
    find_interpreters,
    probe,
)

PYENV = Path("~/.pyenv").expanduser()


def test_each_interpreter_found_has_its_runtime_s_version_and_prefix() -> None:
    found = find_interpreters()
    assert "python3.11" in found and set(found) <= set(RUNTIMES)  # Debian 12 ships 3.11; others as installed
    for runtime, interpreter in found.items():
        assert interpreter.runtime == runtime
        assert f"python{interpreter.version[0]}.{interpreter.version[1]}" == runtime
        assert interpreter.executable.is_file() and not interpreter.executable.is_symlink()
        assert interpreter.executable.read_bytes()[:4] == b"\x7fELF"
        assert interpreter.executable.is_relative_to(interpreter.prefix)
        assert "shims" not in interpreter.executable.parts


def test_results_are_cached() -> None:
    assert find_interpreters()["python3.11"] is find_interpreters()["python3.11"]


def test_prefixes_outside_usr_are_mounts() -> None:
    usr = Interpreter(runtime="python3.11", executable=Path("/usr/bin/python3.11"), prefix=Path("/usr"),
                      version=(3, 11))
    assert usr.mounts == ()
    pyenv = Interpreter(runtime="python3.12", executable=Path("/opt/py/3.12.1/bin/python3.12"),
                        prefix=Path("/opt/py/3.12.1"), version=(3, 12))
    assert pyenv.mounts == (Path("/opt/py/3.12.1"),)
    apart = Interpreter(runtime="python3.12", executable=Path("/opt/bin/python3.12"), prefix=Path("/opt/py"),
                        version=(3, 12))
    assert apart.mounts == (Path("/opt/py"), Path("/opt/bin"))


@pytest.mark.skipif(not Path("/usr/bin/python3.11").exists(), reason="Debian's python3.11 is not installed")
def test_system_python_is_preferred_and_needs_no_mount() -> None:
    interpreter = find_interpreters()["python3.11"]
    assert interpreter.executable == Path("/usr/bin/python3.11")
    assert interpreter.prefix == Path("/usr") and interpreter.mounts == ()


def test_pyenv_versions_highest_patch_first_and_final_releases_only(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    for version in ("3.12.1", "3.12.10", "3.12.9", "3.12.11rc1", "3.12.12t", "3.13.0"):
        binary = tmp_path / "versions" / version / "bin" / "python3.12"
        binary.parent.mkdir(parents=True)
        binary.write_bytes(b"\x7fELF")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    pyenv = [path for path in candidates("python3.12") if path.is_relative_to(tmp_path)]
    assert [path.parts[-3] for path in pyenv] == ["3.12.10", "3.12.9", "3.12.1"]


def test_an_override_wins() -> None:
    override = sorted(PYENV.glob("versions/3.11.*/bin/python3.11"))
    if not override:
        pytest.skip("no pyenv python3.11 on this node")
    found = find_interpreters({"python3.11": override[-1]})
    assert found["python3.11"].executable == override[-1]
    assert found["python3.11"].prefix == override[-1].parent.parent
    assert found.get("python3.13") == find_interpreters().get("python3.13")  # other runtimes unaffected


def test_a_broken_override_is_an_error_never_replaced(tmp_path: Path) -> None:
    script = tmp_path / "python3.12"
    script.write_text("#!/usr/bin/env bash\nexec python3.12 \"$@\"\n")
    script.chmod(0o755)
    with pytest.raises(InterpreterError, match="not an ELF"):
        find_interpreters({"python3.12": script})
    with pytest.raises(InterpreterError, match="does not exist"):
        find_interpreters({"python3.12": tmp_path / "absent"})
    with pytest.raises(InterpreterError, match="is Python 3.11, not python3.12"):
        find_interpreters({"python3.12": find_interpreters()["python3.11"].executable})


@pytest.mark.skipif(not (PYENV / "shims" / "python3.12").exists(), reason="no pyenv shims on this node")
def test_pyenv_shims_are_refused() -> None:
    with pytest.raises(InterpreterError, match="shim"):
        probe("python3.12", PYENV / "shims" / "python3.12")


def test_runtime_names_are_checked() -> None:
    with pytest.raises(InterpreterError, match="not a Python runtime"):
        probe("nodejs20.x", Path("/usr/bin/node"))
