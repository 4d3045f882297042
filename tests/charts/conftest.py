"""The chart rendered as ``helm template`` renders it, offline: each ``ci/`` scenario once per session."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts.tools import CHART, helm_binary, helm_env

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(path.name.removesuffix("-values.yaml") for path in (CHART / "ci").glob("*-values.yaml"))
RELEASE, NAMESPACE = "lambent", "lambent-system"

Manifest = dict[str, Any]
Render = Callable[..., list[Manifest]]


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``helm(*args)``: helm run in the chart's folder, with folders of its own."""
    binary, home = str(helm_binary()), tmp_path_factory.mktemp("helm-home")

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        ran = subprocess.run([binary, *args], cwd=CHART, env=helm_env(home), capture_output=True, text=True,
                             timeout=120)
        if check:
            assert ran.returncode == 0, f"helm {' '.join(args)}:\n{ran.stderr}"
        return ran

    return run


@pytest.fixture(scope="session")
def render(helm: Callable[..., subprocess.CompletedProcess[str]]) -> Callable[..., list[Manifest]]:
    """``render(scenario, *set_args)``: the manifests of a scenario, with ``--set`` values on top."""
    cache: dict[tuple[str, ...], list[Manifest]] = {}

    def rendered(scenario: str, *sets: str) -> list[Manifest]:
        key = (scenario, *sets)
        if key not in cache:
            args = [arg for value in sets for arg in ("--set", value)]
            output = helm("template", RELEASE, ".", "--namespace", NAMESPACE, "-f", f"ci/{scenario}-values.yaml",
                          *args).stdout
            cache[key] = [document for document in yaml.safe_load_all(output) if document]
        return cache[key]

    return rendered


def pod_specs(manifests: list[Manifest]) -> list[tuple[str, Manifest]]:
    """Each pod spec of the manifests (of pods, and of the templates of Deployments and Jobs), by name."""
    found = []
    for manifest in manifests:
        name = f"{manifest['kind']}/{manifest['metadata']['name']}"
        if manifest["kind"] == "Pod":
            found.append((name, manifest["spec"]))
        elif manifest["kind"] in ("Deployment", "Job"):
            found.append((name, manifest["spec"]["template"]["spec"]))
    return found


def of_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [manifest for manifest in manifests if manifest["kind"] == kind]


def hook(manifest: Manifest) -> str | None:
    return (manifest["metadata"].get("annotations") or {}).get("helm.sh/hook")


def scenario_values(scenario: str) -> dict[str, Any]:
    """The values a ``ci/`` scenario gives."""
    return dict(yaml.safe_load((CHART / "ci" / f"{scenario}-values.yaml").read_text()))


def containers(manifests: list[Manifest]) -> list[tuple[str, Manifest, Manifest]]:
    """Each container of the pod specs, as (``Kind/name/container``, its pod spec, itself)."""
    return [(f"{name}/{container['name']}", spec, container)
            for name, spec in pod_specs(manifests) for container in spec["containers"]]


def env_of(container: Manifest) -> dict[str, Manifest]:
    return {variable["name"]: variable for variable in container.get("env", [])}
