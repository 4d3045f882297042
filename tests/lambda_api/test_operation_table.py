"""The Lambda API's operation table against botocore's model: every operation is either served
or named as unsupported, at the method and path botocore sends it to."""

from __future__ import annotations

import re
from pathlib import Path

import botocore.session
import pytest

from lambent.lambda_api import routes, views  # noqa: F401 - views registers the handlers

MODEL = botocore.session.get_session().get_service_model("lambda")


def table() -> dict[str, tuple[str, str | None, bool]]:
    return {route.operation: (route.method, route.pattern.pattern, route.handler is not None)
            for route in routes.ROUTES + routes._UNSUPPORTED_ROUTES}


def test_every_operation_of_the_model_is_served_or_named_unsupported():
    assert set(table()) == set(MODEL.operation_names)


@pytest.mark.parametrize("name", MODEL.operation_names)
def test_each_operation_is_matched_at_botocore_s_method_and_path(name):
    http = MODEL.operation_model(name).http
    path, _, query = http["requestUri"].partition("?")
    concrete = path.replace("{FunctionName}", "arn:aws:lambda:us-east-1:123456789012:function:f")
    for label in ("Name", "StatementId", "Resource", "LayerName", "VersionNumber", "UUID", "CodeSigningConfigArn",
                  "CapacityProviderName", "DurableExecutionArn", "CallbackId", "ResourceArn"):
        concrete = concrete.replace("{" + label + "}", "x1")
    parameters = dict([query.split("=")]) if query else {}
    found = routes.match(http["method"], concrete, parameters)
    assert found is not None and found[0].operation == name


def readme_operations() -> set[str]:
    """The operations of the README's table of supported ones."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = text.split("Supported operations:", 1)[1].split("\n\n", 2)[1]
    return set(re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE))


def test_the_served_operations_are_those_the_readme_lists():
    assert {name for name, (_, _, served) in table().items() if served} == readme_operations()
