"""Fixtures of the Lambda-compatible API tests: one real ``lambent api`` process for the whole
folder, boto3 clients signed with a tenant's access key, and the real AWS CLI.

Every call reaches the platform the way users' own tooling does: over loopback HTTP, signed
with SigV4 by botocore, with no Lambent code on the client side. The api process reads the rows
the tests write, so every module here is ``django_db(transaction=True)``; a module that runs
functions also uses the session's executor (``executor_process``) and the ``sandbox`` marker,
and the tests of ``Event`` invocations the worker and beat (``async_platform``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from lambent.iam.services import NewTenant
from tests.conftest import make_zip
from tests.processes import platform_env, start_api, wait_until

REGION = "us-east-1"
RUNTIME = "python3.11"
HANDLER = "app.handler"
ECHO = "def handler(event, context):\n    return event\n"
AWS_CLI = str(Path(sys.executable).parent / "aws")
ENDED = ("succeeded", "failed", "expired", "cancelled")

# One botocore session for the run: it loads the Lambda model once for every client.
_SESSION = boto3.session.Session()


def code(source: str = ECHO) -> bytes:
    """The zip of a function whose ``app.py`` holds ``source``."""
    return make_zip({"app.py": source})


def sha256_base64(data: bytes) -> str:
    """A code package's ``CodeSha256`` as Lambda writes it: the digest in base64, not hex."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def returning(value: Any) -> str:
    """Source of a handler that returns ``value``: tells which code (or version) ran."""
    return f"def handler(event, context):\n    return {value!r}\n"


def role_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role/service-role/lambent-tests"


def boto_client(endpoint: str, *, access_key_id: str, secret_access_key: str, region: str = REGION) -> Any:
    """A Lambda client of botocore that never retries, so each call is exactly one request."""
    return _SESSION.client(
        "lambda", endpoint_url=endpoint, region_name=region, aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=120))


@dataclass
class Account:
    """A tenant as the Lambda API sees it: a signed client, its account id and its ARNs."""

    endpoint: str
    new_tenant: NewTenant
    client: Any

    @property
    def account_id(self) -> str:
        return self.new_tenant.tenant.account_id

    @property
    def bearer(self) -> str:
        credentials = self.new_tenant.credentials
        return f"Bearer {credentials.access_key_id}:{credentials.secret_access_key}"

    def arn(self, name: str, qualifier: str | None = None) -> str:
        arn = f"arn:aws:lambda:{REGION}:{self.account_id}:function:{name}"
        return f"{arn}:{qualifier}" if qualifier else arn

    def create_function(self, name: str, source: str = ECHO, **overrides: Any) -> dict[str, Any]:
        """CreateFunction through boto3: a Python 3.11 function whose ``app.py`` is ``source``."""
        params: dict[str, Any] = {
            "FunctionName": name, "Runtime": RUNTIME, "Handler": HANDLER, "Role": role_arn(self.account_id),
            "Code": {"ZipFile": code(source)}, **overrides,
        }
        return dict(self.client.create_function(**params))

    def versions(self, name: str, *sources: str) -> list[str]:
        """Publishes one version of ``name`` per source, in order (the function must exist)."""
        published = []
        for source in sources:
            self.client.update_function_code(FunctionName=name, ZipFile=code(source))
            published.append(self.client.publish_version(FunctionName=name)["Version"])
        return published

    def native(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """A call of the native API (``/api/v1``) with the tenant's bearer credentials."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.endpoint}{path}", data=data, method=method,
                                         headers={"Authorization": self.bearer, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        return status, json.loads(raw) if raw else None

    def queue_arn(self, name: str) -> str:
        status, body = self.native("POST", "/api/v1/queues", {"name": name})
        assert status == 201, body
        return str(body["arn"])

    def queue_bodies(self, name: str) -> list[Any]:
        status, body = self.native("POST", f"/api/v1/queues/{name}/messages/receive",
                                   {"max_messages": 10, "visibility_timeout": 600})
        assert status == 200, body
        return [json.loads(message["body"]) for message in body["messages"]]

    def invocation(self, request_id: str) -> dict[str, Any]:
        status, body = self.native("GET", f"/api/v1/invocations/{request_id}")
        assert status == 200, body
        return dict(body)

    def ended_invocation(self, request_id: str, *, timeout: float = 60) -> dict[str, Any]:
        """The ledger's entry of ``request_id`` once the invocation has ended."""
        def ended() -> dict[str, Any] | None:
            status, body = self.native("GET", f"/api/v1/invocations/{request_id}")
            return body if status == 200 and body["status"] in ENDED else None
        return dict(wait_until(ended, timeout=timeout, interval=0.1, what=f"invocation {request_id} to end"))


def signed(account: Account, method: str, path: str, body: bytes = b"", *, service: str = "lambda",
           at: datetime | None = None) -> AWSRequest:
    """A request signed by botocore's own signer, as of ``at`` (now by default)."""
    credentials = account.new_tenant.credentials
    request = AWSRequest(method=method, url=f"{account.endpoint}{path}", data=body)
    signer = SigV4Auth(Credentials(credentials.access_key_id, credentials.secret_access_key), service, REGION)
    if at is None:
        signer.add_auth(request)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None)):
            signer.add_auth(request)
    return request


def send(request: AWSRequest, *, body: bytes | None = None, drop: tuple[str, ...] = ()) -> tuple[int, dict, dict]:
    """Sends a signed request with urllib, its body replaced or headers dropped on the way: the
    status, the headers (lower-cased names) and the JSON body (``{"text": ...}`` if not JSON)."""
    headers = {name: value for name, value in request.headers.items() if name.lower() not in drop}
    data = request.body if body is None else body
    raw = urllib.request.Request(request.url, data=data or None, method=request.method, headers=headers)
    try:
        with urllib.request.urlopen(raw, timeout=30) as response:
            status, answer, received = response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        status, answer, received = exc.code, exc.read(), exc.headers
    try:
        parsed = json.loads(answer) if answer else {}
    except ValueError:
        parsed = {"text": answer.decode(errors="replace")}
    return status, {k.lower(): v for k, v in received.items()}, parsed


@pytest.fixture(scope="session")
def lambda_endpoint(django_db_setup, django_db_blocker) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of one ``lambent api`` serving every test of this folder."""
    with django_db_blocker.unblock():
        env = platform_env()
    process, base = start_api(env)
    yield base
    process.stop()


@pytest.fixture
def make_account(lambda_endpoint: str, make_tenant: Callable[[str], NewTenant]) -> Callable[[str], Account]:
    def make(name: str) -> Account:
        new_tenant = make_tenant(name)
        credentials = new_tenant.credentials
        client = boto_client(lambda_endpoint, access_key_id=credentials.access_key_id,
                             secret_access_key=credentials.secret_access_key)
        return Account(endpoint=lambda_endpoint, new_tenant=new_tenant, client=client)
    return make


@pytest.fixture
def account(lambda_endpoint: str, tenant: NewTenant) -> Account:
    """The test tenant (``tests.conftest.tenant``) on the Lambda API."""
    credentials = tenant.credentials
    client = boto_client(lambda_endpoint, access_key_id=credentials.access_key_id,
                         secret_access_key=credentials.secret_access_key)
    return Account(endpoint=lambda_endpoint, new_tenant=tenant, client=client)


@pytest.fixture
def lambda_client(account: Account) -> Any:
    return account.client


@pytest.fixture
def other_account(make_account: Callable[[str], Account]) -> Account:
    return make_account("globex")


@dataclass(frozen=True)
class CliResult:
    code: int
    output: Any
    """stdout parsed as JSON; None when the command printed nothing."""
    stdout: str
    stderr: str


@pytest.fixture
def aws(lambda_endpoint: str, tenant: NewTenant, tmp_path: Path) -> Callable[..., CliResult]:
    """``aws lambda ARGS`` of the real AWS CLI against the api, as the test tenant, from a clean
    environment (no profile, config or credentials file of the machine), run in ``tmp_path``."""
    credentials = tenant.credentials
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "AWS_ACCESS_KEY_ID": credentials.access_key_id, "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
        "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1", "HOME": str(home),
        "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
    }

    def run(*args: str) -> CliResult:
        completed = subprocess.run(
            [AWS_CLI, "--endpoint-url", lambda_endpoint, "--region", REGION, "--output", "json", "lambda", *args],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        try:
            output = json.loads(completed.stdout) if completed.stdout.strip() else None
        except ValueError:
            output = None
        return CliResult(code=completed.returncode, output=output, stdout=completed.stdout, stderr=completed.stderr)
    return run
