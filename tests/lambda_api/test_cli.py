"""The real AWS CLI (``aws lambda ...``, version 1 from PyPI) against the api: users' shell
scripts work unchanged once given ``--endpoint-url``."""

from __future__ import annotations

import base64
import json

import pytest

from tests.lambda_api.conftest import HANDLER, RUNTIME, code, role_arn, sha256_base64

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_function_from_a_zip_file(aws, account, tmp_path):
    zipped = code()
    (tmp_path / "app.zip").write_bytes(zipped)

    result = aws("create-function", "--function-name", "hello", "--runtime", RUNTIME, "--handler", HANDLER,
                 "--role", role_arn(account.account_id), "--zip-file", "fileb://app.zip", "--timeout", "5")

    assert result.code == 0, result.stderr
    assert result.output["FunctionArn"] == account.arn("hello")
    assert result.output["CodeSha256"] == sha256_base64(zipped)
    assert result.output["Timeout"] == 5
    assert account.client.get_function_configuration(FunctionName="hello")["State"] == "Active"


@pytest.mark.sandbox
@pytest.mark.usefixtures("executor_process")
def test_invoke_writes_the_result_to_the_outfile(aws, account, tmp_path):
    account.create_function("hello", "def handler(event, context):\n    print('cli was here')\n    return event\n")

    # AWS CLI v1 sends --payload as given (v2 would need --cli-binary-format raw-in-base64-out,
    # an option v1 does not have).
    result = aws("invoke", "--function-name", "hello", "--payload", '{"greeting": "hi"}', "--log-type", "Tail",
                 "out.json")

    assert result.code == 0, result.stderr
    assert result.output["StatusCode"] == 200
    assert result.output["ExecutedVersion"] == "$LATEST"
    assert "cli was here" in base64.b64decode(result.output["LogResult"]).decode()
    assert json.loads((tmp_path / "out.json").read_text()) == {"greeting": "hi"}


def test_list_functions_follows_every_page(aws, account):
    for name in ("a", "b", "c"):
        account.create_function(name)

    result = aws("list-functions", "--page-size", "1")

    assert result.code == 0, result.stderr
    assert sorted(function["FunctionName"] for function in result.output["Functions"]) == ["a", "b", "c"]


def test_get_function(aws, account):
    account.create_function("hello")

    result = aws("get-function", "--function-name", account.arn("hello"))

    assert result.code == 0, result.stderr
    assert result.output["Configuration"]["FunctionName"] == "hello"
    assert result.output["Code"]["Location"].startswith("http")


def test_update_function_configuration(aws, account):
    account.create_function("hello")

    result = aws("update-function-configuration", "--function-name", "hello", "--timeout", "10", "--memory-size",
                 "256", "--environment", "Variables={STAGE=prod}")

    assert result.code == 0, result.stderr
    assert (result.output["Timeout"], result.output["MemorySize"]) == (10, 256)
    assert result.output["Environment"] == {"Variables": {"STAGE": "prod"}}


def test_publish_version_and_create_alias(aws, account):
    account.create_function("hello")

    published = aws("publish-version", "--function-name", "hello", "--description", "first")
    alias = aws("create-alias", "--function-name", "hello", "--name", "live", "--function-version", "1")

    assert published.code == 0, published.stderr
    assert published.output["Version"] == "1"
    assert alias.code == 0, alias.stderr
    assert alias.output["AliasArn"] == account.arn("hello", "live")
    assert account.client.get_alias(FunctionName="hello", Name="live")["FunctionVersion"] == "1"


def test_delete_function_then_its_error(aws, account):
    account.create_function("hello")

    deleted = aws("delete-function", "--function-name", "hello")
    missing = aws("get-function", "--function-name", "hello")

    assert deleted.code == 0, deleted.stderr
    assert missing.code in (254, 255), missing
    assert "ResourceNotFoundException" in missing.stderr
    assert "GetFunction" in missing.stderr
