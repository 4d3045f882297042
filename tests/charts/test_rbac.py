"""The executor's rights: no wider than the README's table, exactly what the backend's source calls."""

from __future__ import annotations

import re

import pytest

from tests.charts.conftest import ROOT, Render, hook, of_kind, scenario_values


def readme_rights() -> dict[tuple[str, str, str], set[str]]:
    """The README's table of what the executor's account needs: (scope, API group, resource) -> verbs,
    the scope ``namespace`` for a Role in the platform's namespace, else ``cluster``."""
    section = (ROOT / "README.md").read_text().split("## Running on Kubernetes", 1)[1].split("\n## ", 1)[0]
    rights = {}
    rows = re.findall(r"^\| `(\w+)`(?: \(`([\w.]+)`\))?([^|]*)\| ([a-z, ]+?)(?: \([^|]*\))? \|$", section, re.M)
    for resource, group, said, verbs in rows:
        scope = "namespace" if "platform's namespace only" in said else "cluster"
        rights[(scope, group, resource)] = {verb.strip() for verb in verbs.split(",")}
    assert len(rights) == 8, rights
    return rights


@pytest.mark.parametrize("scenario", ["minimal", "runtime-class"])
def test_the_executors_rights_are_no_wider_than_the_readme_lists(render: Render, scenario: str) -> None:
    manifests = [m for m in render(scenario) if not hook(m)]
    allowed = readme_rights()
    (cluster_role,) = of_kind(manifests, "ClusterRole")
    (role,) = of_kind(manifests, "Role")
    for scope, rules in (("cluster", cluster_role["rules"]), ("namespace", role["rules"])):
        for rule in rules:
            assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"]
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    assert set(rule["verbs"]) <= allowed[(scope, group, resource)], (scope, resource, rule["verbs"])
    named = [rule for rule in role["rules"] if set(rule["verbs"]) & {"get", "update"}]
    pull_secrets = scenario_values(scenario).get("sandboxes", {}).get("imagePullSecrets", [])
    assert named == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                      "resourceNames": ["lambent-executor"], "verbs": ["get", "update"]},
                     *([{"apiGroups": [""], "resources": ["secrets"], "resourceNames": pull_secrets,
                         "verbs": ["get"]}] if pull_secrets else [])]
    # Secrets across namespaces only where there are pull secrets to copy.
    assert bool([rule for rule in cluster_role["rules"] if "secrets" in rule["resources"]]) is bool(pull_secrets)
    (binding,) = of_kind(manifests, "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "lambent-executor",
                                    "namespace": "lambent-system"}]


def test_the_rights_are_those_the_backend_calls() -> None:
    """Each verb granted is one a call of worker/executors/kubernetes makes (read from its source)."""
    source = "\n".join(path.read_text() for path in (ROOT / "worker" / "executors" / "kubernetes").glob("*.py"))
    calls = set(re.findall(r"(?:core|_networking|_api)\.(create|patch|delete|replace|read|list)_(?:namespaced_)?"
                           r"([a-z_]+?)(?:_for_all_namespaces)?\b", source))
    assert calls == {("create", "namespace"), ("create", "pod"), ("patch", "pod"), ("delete", "pod"),
                     ("list", "pod"), ("create", "network_policy"), ("create", "resource_quota"),
                     ("replace", "resource_quota"), ("create", "limit_range"), ("create", "lease"),
                     ("read", "lease"), ("replace", "lease"), ("read", "secret"), ("create", "secret"),
                     ("replace", "secret")}, "the backend calls something new: grant it in rbac.yaml"
