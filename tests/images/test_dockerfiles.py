"""Every Dockerfile is hadolint-clean: the rules an image ignores are ignored in the file, each with its reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.images.podman import ROOT

pytestmark = pytest.mark.containers

HADOLINT = Path(sys.executable).parent / "hadolint"
DOCKERFILES = ["Dockerfile", "runtimes/python/Dockerfile"]


def test_every_dockerfile_of_the_repository_is_listed_here() -> None:
    found = {str(path.relative_to(ROOT)) for path in ROOT.glob("**/Dockerfile")
             if not path.relative_to(ROOT).parts[0].startswith(".")}
    assert found == set(DOCKERFILES)


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_hadolint_finds_nothing(dockerfile: str) -> None:
    result = subprocess.run([str(HADOLINT), "--no-color", dockerfile], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_every_ignored_rule_says_why() -> None:
    for dockerfile in DOCKERFILES:
        lines = (ROOT / dockerfile).read_text().splitlines()
        for number, line in enumerate(lines):
            if line.startswith("# hadolint ignore="):
                reason = lines[number - 1]
                assert reason.startswith("# ") and "hadolint" not in reason, f"{dockerfile}:{number + 1} says no reason"
