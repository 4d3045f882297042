"""checkov's Kubernetes checks on the chart's manifests, every ``ci/`` scenario, offline
(``--skip-download``): every failure is one ``checkov-accepted.yaml`` lists with its reason, and
every one it lists still fails where it says. checkov runs from the virtualenv of its own that
``tools/checkov/build`` makes (see tests/executors/kubernetes/test_checkov.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts.conftest import SCENARIOS, Manifest, of_kind
from tests.checkov import failed_checks

ACCEPTED: dict[str, dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "checkov-accepted.yaml").read_text())


def expected(scenario: str) -> set[str]:
    return {check for check, entry in ACCEPTED.items() if entry["scenarios"] == "all" or scenario in entry["scenarios"]}


@pytest.fixture(scope="module")
def failed(render: Callable[..., list[Manifest]], tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """The ids of the checks that failed, by scenario, from one checkov run over them all."""
    folder = tmp_path_factory.mktemp("chart-manifests")
    count = 0
    for scenario in SCENARIOS:
        manifests = render(scenario)
        # checkov counts a Deployment's or a Job's pod template as a resource of its own too.
        count += len(manifests) + len(of_kind(manifests, "Deployment")) + len(of_kind(manifests, "Job"))
        (folder / f"{scenario}.yaml").write_text(yaml.safe_dump_all(manifests))
    return failed_checks(folder, resources=count)


def test_every_accepted_check_has_its_reason() -> None:
    for check, entry in ACCEPTED.items():
        assert len(entry["reason"]) > 40, check
        assert entry["scenarios"] == "all" or set(entry["scenarios"]) <= set(SCENARIOS), check


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_checkov_fails_only_the_checks_accepted_with_a_reason(failed: dict[str, set[str]], scenario: str) -> None:
    assert failed[scenario] == expected(scenario)
