"""`helm test`: a tenant (made once, then given a new key), a function, an invocation, its answer.

Runs in the platform image against the release's api; prints each step and exits 1 on the first
that fails. The function is deleted at the end; the tenant `helm-test` is kept for the next run.
"""

import base64
import io
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zipfile

API = os.environ["LAMBENT_TEST_API"]
RUNTIME = os.environ["LAMBENT_TEST_RUNTIME"]
HANDLER = 'def handler(event, context):\n    return {"echo": event, "request_id": context.aws_request_id}\n'


def step(what):
    print(f"helm test: {what}", flush=True)


def credentials():
    made = subprocess.run(["lambent", "tenant", "create", "helm-test", "--json"], capture_output=True, text=True)
    if made.returncode != 0:  # made by an earlier run: another key of its user
        made = subprocess.run(["lambent", "tenant", "key", "helm-test", "--json"], capture_output=True, text=True)
    if made.returncode != 0:
        sys.exit(f"helm test: no credentials for the tenant helm-test: {made.stderr.strip()}")
    key = json.loads(made.stdout)
    return f"{key['access_key_id']}:{key['secret_access_key']}"


def call(method, path, key, body=None, *, timeout=120):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{API}{path}", data=data, method=method,
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def package():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLER)
    return base64.b64encode(buffer.getvalue()).decode()


def main():
    step("credentials of the tenant helm-test")
    key = credentials()
    name = f"helm-test-{uuid.uuid4().hex[:8]}"
    step(f"create {name} ({RUNTIME})")
    status, body = call("POST", "/api/v1/functions", key,
                        {"name": name, "runtime": RUNTIME, "handler": "app.handler", "zip_file": package()})
    if status != 201:
        sys.exit(f"helm test: creating {name} answered {status}: {body[:2000]!r}")
    try:
        event = {"from": "helm test", "n": 1}
        # The first invocation is a cold start: a sandbox pod is made (its image maybe pulled). An
        # executor still taking the lead over answers 503 meanwhile.
        deadline = time.monotonic() + 180
        while True:
            step("invoke")
            status, body = call("POST", f"/api/v1/functions/{name}/invoke", key, event)
            if status != 503 or time.monotonic() > deadline:
                break
            time.sleep(3)
        if status != 200:
            sys.exit(f"helm test: invoking {name} answered {status}: {body[:2000]!r}")
        answer = json.loads(body)
        if answer.get("echo") != event or not answer.get("request_id"):
            sys.exit(f"helm test: {name} answered {answer!r}, expected the echo of {event!r}")
        step(f"{name} answered {answer!r}")
    finally:
        call("DELETE", f"/api/v1/functions/{name}", key)
    step("passed")


main()
