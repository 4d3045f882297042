"""checkov, installed once per machine by tools/checkov/build, run on a folder of manifests."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

BUILD = Path(__file__).resolve().parents[1] / "tools" / "checkov" / "build"
UNSUPPORTED = 3  # the build script's exit status where checkov cannot be installed here


def checkov_binary() -> str:
    """checkov's command; skips (fails in CI) where it cannot be installed."""
    built = subprocess.run([str(BUILD)], capture_output=True, text=True)
    if built.returncode == UNSUPPORTED:
        reason = built.stderr.strip().splitlines()[-1]
        if os.environ.get("LAMBENT_TEST_REQUIRE_SANDBOX"):  # CI: this machine must run every check
            pytest.fail(f"checkov is required but cannot be installed: {reason}")
        pytest.skip(reason)
    assert built.returncode == 0, f"{BUILD} failed ({built.returncode}):\n{built.stderr[-4000:]}"
    return built.stdout.strip().splitlines()[-1]


def failed_checks(folder: Path, *, resources: int, timeout: float = 600) -> dict[str, set[str]]:
    """The ids of the checks that failed, by manifest file of ``folder`` (its stem), from one offline
    run of checkov's Kubernetes checks, which must have parsed everything and read ``resources``."""
    ran = subprocess.run([checkov_binary(), "--framework", "kubernetes", "--skip-download", "--output", "json",
                          "--directory", str(folder)], capture_output=True, text=True, timeout=timeout)
    assert ran.returncode in (0, 1), ran.stderr[-4000:]
    report: Any = json.loads(ran.stdout)
    (kubernetes,) = report if isinstance(report, list) else [report]
    assert kubernetes["summary"]["parsing_errors"] == 0 and kubernetes["summary"]["passed"] > 0
    assert kubernetes["summary"]["resource_count"] == resources
    found: dict[str, set[str]] = {path.stem: set() for path in folder.glob("*.yaml")}
    for check in kubernetes["results"]["failed_checks"]:
        found[Path(check["file_path"]).stem].add(check["check_id"])
    return found
