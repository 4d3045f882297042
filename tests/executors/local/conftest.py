"""Real sandboxes for the local backend's tests: a cgroup parent, a staging root and uids of the test's own."""

from __future__ import annotations

import itertools
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.executors.local import REPO, Start
from worker.executors.local.cgroups import DEFAULT_ROOT, CgroupDriver, detect
from worker.executors.local.interpreters import Interpreter, find_interpreters
from worker.executors.local.sandbox import Sandbox, SandboxSpec, UidPool, launch


@pytest.fixture
def cgroups() -> Iterator[CgroupDriver]:
    driver = detect(parent=f"lambent-test-{uuid.uuid4().hex[:8]}")
    yield driver
    driver.reap_all()
    for parent in DEFAULT_ROOT.glob(f"*/{driver.parent}"):
        parent.rmdir()


@pytest.fixture
def state_root() -> Iterator[Path]:
    """Staging must be reachable by sandbox uids: pytest's own tmp directories are 0700."""
    path = Path(tempfile.mkdtemp(prefix="lambent-state-", dir="/tmp"))
    path.chmod(0o711)
    yield path
    path.rmdir()  # fails if a sandbox left its staging directory behind


@pytest.fixture
def uids() -> UidPool:
    return UidPool()


@pytest.fixture
def python() -> Interpreter:
    """An interpreter outside /usr when the node has one, so its prefix must be bind-mounted."""
    found = find_interpreters()
    return next(found[runtime] for runtime in ("python3.13", "python3.12", "python3.11") if runtime in found)


@pytest.fixture
def make_spec(tmp_path: Path, uids: UidPool, python: Interpreter) -> Callable[..., SandboxSpec]:
    counter = itertools.count()

    def make(script: str = "", *, command: list[str] | None = None, **limits: Any) -> SandboxSpec:
        number = next(counter)
        code_dir = tmp_path / f"code{number}"
        code_dir.mkdir()
        code_dir.chmod(0o755)
        (code_dir / "main.py").write_text(script)
        uid = uids.acquire()
        settings: dict[str, Any] = {"tmp_mb": 8, "memory_mb": 128, "pids_max": 64, **limits}
        return SandboxSpec(
            sandbox_id=f"test-{uuid.uuid4().hex[:12]}", interpreter=python,
            command=command or [str(python.executable), "-I", "-S", "/var/task/main.py"],
            code_dir=code_dir, runtime_dir=REPO / "runtimes", uid=uid, gid=uid, **settings,
        )

    return make


@pytest.fixture
def start(make_spec: Callable[..., SandboxSpec], cgroups: CgroupDriver, state_root: Path,
          uids: UidPool) -> Iterator[Start]:
    started: list[Sandbox] = []

    def start(script: str = "", **options: Any) -> Sandbox:
        sandbox = launch(make_spec(script, **options), cgroups=cgroups, state_root=state_root, uids=uids)
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in started:
        sandbox.destroy()
