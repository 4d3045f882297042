"""The chart's secrets (standing in for helm-unittest, which cannot be installed here): only in the
Secret, never in a ConfigMap or a pod spec; ``existingSecret`` honoured, no Secret made then; each
required, and never given twice."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from tests.charts.conftest import SCENARIOS, Render, containers, env_of, hook, of_kind, scenario_values

SECRET_KEYS = {"secret-key": "LAMBENT_SECRET_KEY", "master-key": "LAMBENT_MASTER_KEY",
               "database-url": "LAMBENT_DATABASE_URL", "redis-url": "LAMBENT_REDIS_URL"}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_secret_is_in_a_configmap_or_a_pod_spec(render: Render, scenario: str) -> None:
    given = [value for key, value in scenario_values(scenario)["secrets"].items() if value and key != "existingSecret"]
    for manifest in render(scenario):
        if manifest["kind"] == "Secret":
            continue
        text = yaml.safe_dump(manifest)
        assert not [value for value in given if value in text], f"{manifest['kind']}/{manifest['metadata']['name']}"
        if manifest["kind"] == "ConfigMap":
            assert not set(manifest["data"]) & {*SECRET_KEYS.values(), "LAMBENT_METRICS_TOKEN"}


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if not scenario_values(s)["secrets"].get("existingSecret")])
def test_the_secret_holds_the_values_given(render: Render, scenario: str) -> None:
    given = scenario_values(scenario)["secrets"]
    secrets = [m for m in of_kind(render(scenario), "Secret") if not hook(m)]
    assert [secret["metadata"]["name"] for secret in secrets] == ["lambent"]
    data = {key: base64.b64decode(value).decode() for key, value in secrets[0]["data"].items()}
    assert data["secret-key"] == given["secretKey"] and data["master-key"] == given["masterKey"]
    assert data["database-url"] == given["databaseUrl"] and data["redis-url"] == given["redisUrl"]
    assert data.get("metrics-token") == (given.get("metricsToken") or None)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_platform_container_takes_its_secrets_from_the_secret(render: Render, scenario: str) -> None:
    manifests = render(scenario)
    expected = scenario_values(scenario)["secrets"].get("existingSecret") or "lambent"
    for name, _, container in containers(manifests):
        if "/lambent-cleanup" in name:  # runs after the release's Secret is gone, with its token only
            assert not any("valueFrom" in variable for variable in container.get("env", []))
            continue
        env = env_of(container)
        for key, variable in SECRET_KEYS.items():
            reference = env[variable]["valueFrom"]["secretKeyRef"]
            wanted = "lambent-migrate" if "/lambent-migrate" in name and expected == "lambent" else expected
            assert (reference["name"], reference["key"]) == (wanted, key), name


def test_an_existing_secret_is_used_and_none_is_made(render: Render) -> None:
    manifests = render("ha")
    assert not of_kind(manifests, "Secret")
    references = [ref for _, _, container in containers(manifests) for variable in container.get("env", [])
                  if (ref := variable.get("valueFrom", {}).get("secretKeyRef"))]
    assert references and {ref["name"] for ref in references} == {"lambent-secrets"}
    monitors = of_kind(manifests, "ServiceMonitor")
    credentials = [endpoint["authorization"]["credentials"] for monitor in monitors
                   for endpoint in monitor["spec"]["endpoints"] if "authorization" in endpoint]
    assert credentials == [{"name": "lambent-secrets", "key": "metrics-token"}]


def test_secrets_are_required_and_never_given_twice(helm: Callable[..., Any]) -> None:
    missing = helm("template", "lambent", ".", "-f", "ci/minimal-values.yaml", "--set", "secrets.masterKey=",
                   check=False)
    assert missing.returncode != 0 and "secrets.masterKey is required" in missing.stderr
    short = helm("template", "lambent", ".", "-f", "ci/minimal-values.yaml", "--set", "secrets.secretKey=short",
                 check=False)
    assert short.returncode != 0 and "at least 50 characters" in short.stderr
    both = helm("template", "lambent", ".", "-f", "ci/minimal-values.yaml", "--set", "secrets.existingSecret=mine",
                check=False)
    assert both.returncode != 0 and "leave secrets.secretKey" in both.stderr
