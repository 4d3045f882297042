"""The chart's values: the schema refuses unknown keys (everywhere) and values of the wrong type or
form, every value is documented, and the notes say how to make the first tenant."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.charts.tools import CHART


@pytest.mark.parametrize(("value", "message"), [
    ("api.portt=80", "additional properties 'portt' not allowed"),
    ("unknown=1", "additional properties 'unknown' not allowed"),
    ("executor.serviceAccount.nam=x", "additional properties 'nam' not allowed"),
    ("api.replicas=two", "got string, want integer"),
    ("api.port=0", "minimum"),
    ("image.pullPolicy=Sometimes", "value must be one of"),
    ("settings.extra.LAMBENT_SECRET_KEY=x", "invalid propertyName"),
    ("settings.extra.OTHER=x", "invalid propertyName"),
    ("secrets.databaseUrl=mysql://x", "does not match pattern"),
    ("sandboxes.namespacePattern=tenants", "does not match pattern"),
])
def test_the_schema_refuses_bad_values(helm: Callable[..., Any], value: str, message: str) -> None:
    ran = helm("template", "lambent", ".", "-f", "ci/minimal-values.yaml", "--set", value, check=False)
    assert ran.returncode != 0 and message in ran.stderr, ran.stderr


def test_the_schema_refuses_unknown_keys_everywhere() -> None:

    schema = json.loads((CHART / "values.schema.json").read_text())
    #: Kubernetes objects the chart passes on as they are (their own schema is Kubernetes').
    passed_on = {"global", "affinity.nodeAffinity", "affinity.podAffinity", "affinity.podAntiAffinity"}

    def walk(node: dict[str, Any], path: str) -> None:
        if node.get("type") == "object":
            if "properties" in node:
                assert node.get("additionalProperties") is False, path
                for key, child in node["properties"].items():
                    walk(child, f"{path}.{key}".lstrip("."))
            else:  # a map: its values have a schema
                assert isinstance(node.get("additionalProperties"), dict) or path.split(".", 1)[-1] in passed_on \
                    or path in passed_on, path
                if isinstance(node.get("additionalProperties"), dict):
                    walk(node["additionalProperties"], f"{path}.*")
        for item in [node.get("items")] if isinstance(node.get("items"), dict) else []:
            if item.get("type") == "object" and "properties" in item:
                walk(item, f"{path}[]")

    walk(schema, "")


def test_every_value_is_documented() -> None:
    """Every key of values.yaml down to a component's sub-blocks has a comment above it, but the
    fields of the Kubernetes objects a block holds as they are (requests and limits, a seccomp
    profile, capabilities), which its own comment documents."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented, parents = [], {}
    for number, line in enumerate(lines):
        match = re.match(r"^( *)([A-Za-z][\w.-]*):", line)
        if not match:
            continue
        depth = len(match.group(1))
        parents[depth] = match.group(2)
        if depth > 4 or (depth and parents.get(depth - 2) in ("resources", "seccompProfile", "capabilities")):
            continue
        above = lines[number - 1].strip() if number else ""
        if not above.startswith("#"):
            undocumented.append(line.strip())
    assert undocumented == []


def test_the_notes_say_how_to_make_the_first_tenant_and_reach_the_api(helm: Callable[..., Any]) -> None:
    notes = helm("template", "lambent", ".", "-f", "ci/minimal-values.yaml", "--namespace", "lambent-system",
                 "--show-only", "templates/NOTES.txt", check=False)
    installed = helm("install", "lambent", ".", "-f", "ci/minimal-values.yaml", "--namespace", "lambent-system",
                     "--dry-run=client", check=False)
    text = installed.stdout if installed.returncode == 0 else notes.stdout
    assert "lambent tenant create" in text and "port-forward svc/lambent-api" in text, installed.stderr
