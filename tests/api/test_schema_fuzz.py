"""schemathesis against a real ``lambent api``, every check on: the schema tells the whole truth.

The api runs as ``make dev`` runs it (uvicorn, the API handler, the real executor's sandboxes for
the invocations); the tenant is real and so is its access key. Before the run a function
``hello`` is created with two published versions and an alias ``live``, a queue ``hello``, a
schedule ``hello`` (no beat fires it) and an Event invocation (no worker runs it), and the path
parameters name them most of the time (schemathesis's dictionaries), so that the sub-resources
(versions, aliases, invocations, event configs, concurrency, messages, firings, ...) are exercised
and not only their 404s.

The run is bounded by examples per operation and by time (``MAX_EXAMPLES``, ``MAX_SECONDS``);
schemathesis's JSON report then must count no failure of any check and no error (its JUnit report
says what each was), and the figures are printed.
``schemathesis_hooks`` says which generated values are bent before they are sent, and why.
Two expectations are widened, each for a reason the schema cannot carry: a 412 is a valid
request answered from the state of the resource (its revision moved on), and reserving or
provisioning concurrency is a 400 past what the account can spare besides its other functions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambent.quotas import services as quota_services
from tests.api.schemathesis_hooks import code_zip
from tests.conftest import b64
from tests.processes import platform_env, start_api
from worker.executors.local.interpreters import find_interpreters

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
# One worker: two threads that parse Python at once trip CPython 3.11's AST recursion counter inside
# hypothesis ("AST constructor recursion depth mismatch"), a Runtime Error of the tool's own that
# failed a run now and then.
MAX_EXAMPLES = 30
MAX_SECONDS = 150
#: What positive_data_acceptance takes by default, and 412 (see the module's docstring).
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "412", "429", "5xx"]

CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = {accepted}

[[operations]]
include-method = "PUT"
include-path-regex = "/(concurrency|provisioned-concurrency)$"
checks.positive_data_acceptance.expected-statuses = {spare}

[dictionaries.names]
values = ["hello"]
[dictionaries.aliases]
values = ["live"]
[dictionaries.qualifiers]
values = ["1", "live", "$LATEST"]
[dictionaries.requests]
values = ["{request_id}"]

[parameters]
"path.name" = {{ dictionary = "names", probability = 0.8 }}
"path.alias" = {{ dictionary = "aliases", probability = 0.8 }}
"path.request_id" = {{ dictionary = "requests", probability = 0.8 }}
"body.name" = {{ dictionary = "names", probability = 0.2 }}
"query.qualifier" = {{ dictionary = "qualifiers", probability = 0.7 }}
"""


class Client:
    def __init__(self, base: str, bearer: str) -> None:
        self.base, self.bearer = base, bearer

    def __call__(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method, headers={
            "Authorization": self.bearer, "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")


@pytest.fixture
def live_api(executor_process: Any, tenant: Any) -> Iterator[tuple[str, str]]:
    # Provisioned sandboxes are never started here (no worker reconciles them), but a low limit
    # keeps what a config may ask for small anyway.
    quota_services.quota_set(tenant=tenant.tenant, concurrent_executions=20, unreserved_concurrency_minimum=10)
    process, base = start_api(platform_env())
    credentials = tenant.credentials
    try:
        yield base, f"Bearer {credentials.access_key_id}:{credentials.secret_access_key}"
    finally:
        process.stop()


def seed(call: Client) -> str:
    """The seeded resources; the request id of the Event invocation."""
    call("POST", "/api/v1/functions", {"name": "hello", "runtime": "python3.11", "handler": "app.handler",
                                       "zip_file": b64(code_zip()), "publish": True})
    call("PATCH", "/api/v1/functions/hello", {"description": "second"})
    call("POST", "/api/v1/functions/hello/versions", {})
    call("POST", "/api/v1/functions/hello/aliases", {"name": "live", "function_version": "1"})
    call("POST", "/api/v1/queues", {"name": "hello"})
    call("POST", "/api/v1/schedules", {"name": "hello", "schedule_expression": "rate(1 day)", "target_arn": "hello"})
    event = urllib.request.Request(f"{call.base}/api/v1/functions/hello/invoke?type=Event", data=b"{}",
                                   method="POST", headers={"Authorization": call.bearer})
    with urllib.request.urlopen(event, timeout=60) as response:
        request_id = json.loads(response.read())["request_id"]
    return request_id


def test_schemathesis_finds_nothing(live_api: tuple[str, str], tmp_path: Path) -> None:
    base, bearer = live_api
    request_id = seed(Client(base, bearer))
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG.format(accepted=json.dumps(ACCEPTED), spare=json.dumps([*ACCEPTED, "400"]),
                                    request_id=request_id))
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks", "PYTHONPATH": str(ROOT),
           "LAMBENT_FUZZ_RUNTIMES": ",".join(sorted(find_interpreters()))}
    run = subprocess.run(
        [str(Path(sys.executable).parent / "st"), "--config-file", str(config), "run", f"{base}/api/v1/schema",
         "--url", base, "--checks", "all", "--header", f"Authorization: {bearer}",
         "--max-examples", str(MAX_EXAMPLES), "--max-time", str(MAX_SECONDS), "--workers", "1",
         "--request-timeout", "30", "--report", "junit,json", "--report-junit-path", str(junit),
         "--report-json-path", str(report), "--no-color", "--seed", "1"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=MAX_SECONDS + 240)
    summary = json.loads(report.read_text())
    operations, cases = summary["operations"]["tested"], summary["test_cases"]["generated"]
    failures = [f"{group['title']} ({group['count']}): {', '.join(group['operations'])}"
                for group in summary["failures"]]
    print(f"schemathesis: {operations} operations, {cases} cases, {len(failures)} failures "
          f"({summary['filtered']} dropped by filter_failure: valid multipart bodies counted as invalid)")
    assert not failures and not summary["errors"], "\n".join(failures) + "\n" + "\n\n".join(
        junit_failures(junit))[:20000] + json.dumps(summary["errors"])
    assert operations == summary["operations"]["total"] >= 52, run.stdout[-4000:]
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]


def junit_failures(junit: Path) -> list[str]:
    """What each failure of schemathesis's JUnit report says."""
    root = ElementTree.parse(junit).getroot()
    return [f"{case.get('name')}: {problem.get('message') or ''}\n{problem.text or ''}"
            for case in root.findall(".//testcase") for problem in [*case.findall("failure"), *case.findall("error")]]
