"""``helm lint --strict`` and the rendered manifests against Kubernetes' published schemas, for every
``ci/`` scenario. kubernetes-validate ships the schemas of Kubernetes 1.25 to 1.37 (none of 1.20,
the test bed's, which the live test covers): the oldest and the newest are checked, ``--strict``
refusing any field they do not know. The ServiceMonitor is the Prometheus Operator's, which no
Kubernetes schema has."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.charts.conftest import SCENARIOS, Manifest

KUBERNETES_VERSIONS = ("1.25.0", "1.37.0")
VALIDATE = Path(sys.executable).parent / "kubernetes-validate"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_chart_lints_strictly(helm: Callable[..., subprocess.CompletedProcess[str]], scenario: str) -> None:
    linted = helm("lint", "--strict", ".", "-f", f"ci/{scenario}-values.yaml", check=False)
    assert linted.returncode == 0 and "0 chart(s) failed" in linted.stdout, linted.stdout + linted.stderr
    assert "[WARNING]" not in linted.stdout and "[ERROR]" not in linted.stdout, linted.stdout


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_manifest_is_valid_against_the_schemas(render: Callable[..., list[Manifest]], tmp_path: Path,
                                                      scenario: str, version: str) -> None:
    manifests = render(scenario)
    path = tmp_path / f"{scenario}.yaml"
    path.write_text(yaml.safe_dump_all(manifests))
    validated = subprocess.run([str(VALIDATE), "--strict", "--kubernetes-version", version, str(path)],
                               capture_output=True, text=True, timeout=300)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    lines = validated.stdout.splitlines()
    unknown = [line for line in lines if "Couldn't find schema" in line]
    assert all("kind ServiceMonitor with api version monitoring.coreos.com/v1" in line for line in unknown), unknown
    passed = [line for line in lines if line.startswith("INFO") and "passed" in line]
    assert len(passed) + len(unknown) == len(manifests), validated.stdout


def test_the_chart_states_the_kubernetes_it_needs(helm: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    """1.20, the test bed's, and newer; the live test (tests/k8s/test_chart.py) installs it there."""
    for version, installs in (("1.19.16", False), ("1.20.0", True), ("1.37.0", True)):
        ran = helm("template", "lambent", ".", "-f", "ci/minimal-values.yaml", "--kube-version", version, check=False)
        assert (ran.returncode == 0) is installs, (version, ran.stderr)
        if not installs:
            assert "incompatible with Kubernetes" in ran.stderr or "kubeVersion" in ran.stderr, ran.stderr
