"""The console end to end in a real Chromium (Debian's ``chromium``, driven by Playwright with
``executable_path``: Playwright's own browser builds are never downloaded) against a running
``lambent api`` with real sandboxes: a user signs in, creates a function from code typed into the
editor, saves a test event and runs it (result and REPORT line), changes an environment variable
and sees the next result change; a user of another tenant gets 404 on each of its pages. Then
(``test_versions_aliases_ledger_access_keys_and_operators``) a user publishes a version, points an alias at
it with 10% on another version, finds the invocation in the ledger and opens its log, issues an
access key and uses it with curl to queue an asynchronous invocation of a function they gave reserved
concurrency 0 on its concurrency tab, which they find in the ledger and cancel; another tenant's
user gets 404 on those pages and on the operators'; an operator creates a tenant and changes its
concurrency limit.

Each page passed through is saved as a screenshot under ``tmp/artifacts/console`` and
``tmp/artifacts/console-versions`` (or the same under ``$LAMBENT_TEST_ARTIFACTS``). Where
chromium is missing the test is skipped, unless LAMBENT_TEST_REQUIRE_SANDBOX asks for every test
to run: then it fails.

Playwright's synchronous API keeps an event loop running in this thread, where Django refuses
database queries: the test writes what it needs before the browser starts and reads the ledger
after it has closed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from lambent.iam import services as iam_services
from lambent.invocations.models import Invocation
from tests.console.conftest import PASSWORD
from tests.processes import Process, platform_env, start_api

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]

CHROMIUM = os.environ.get("LAMBENT_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("LAMBENT_TEST_ARTIFACTS") or Path(__file__).resolve().parents[2] / "tmp" / "artifacts")

HANDLER = '''import os


def handler(event, context):
    greeting = os.environ.get("GREETING", "Hello")
    print("greeting", event.get("name"))
    return {"message": greeting + ", " + event.get("name", "world") + "!"}
'''


@pytest.fixture
def chromium() -> str:
    if shutil.which(CHROMIUM) is None:
        reason = f"chromium is not installed at {CHROMIUM} (apt-get install chromium; tools/system-packages)"
        if os.environ.get("LAMBENT_TEST_REQUIRE_SANDBOX"):
            pytest.fail(f"the browser tests are required but cannot run: {reason}")
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture
def console_url(executor_process) -> Iterator[str]:
    """The console of a real api; reached as localhost, where browsers keep Secure cookies over HTTP."""
    process: Process
    process, base = start_api(platform_env())
    yield base.replace("127.0.0.1", "localhost") + "/console/"
    process.stop()


class Screens:
    """Screenshots of the pages passed through, numbered in order."""

    def __init__(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.folder, self.count = folder, 0

    def take(self, page, name: str) -> None:
        self.count += 1
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"), full_page=True)


def type_into_editor(page, index: int, text: str) -> None:
    """Replace the text of the page's ``index``-th CodeMirror editor as a user pasting it would."""
    page.locator(".CodeMirror").nth(index).click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text)


def sign_in(page, console_url: str, username: str) -> None:
    page.goto(console_url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/functions/")


def test_sign_in_create_test_and_change_a_variable(chromium, console_url, make_member):
    from playwright.sync_api import expect, sync_playwright

    alice = make_member("acme", "alice")
    iam_services.user_create(tenant=make_member("globex", "mallory").tenant, username="eve", password=PASSWORD)
    screens = Screens(ARTIFACTS / "console")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.set_default_timeout(20_000)

        page.goto(console_url)
        expect(page).to_have_url(re.compile(r"/console/sign-in\?next="))
        screens.take(page, "sign-in")
        sign_in(page, console_url, "alice")
        expect(page.get_by_text("No functions yet.")).to_be_visible()
        screens.take(page, "functions-empty")

        page.get_by_role("link", name="Create function").click()
        page.get_by_label("Name").fill("greeter")
        page.get_by_label("Runtime").select_option("python3.12")
        type_into_editor(page, 0, HANDLER)
        expect(page.locator(".CodeMirror .cm-keyword").first).to_be_visible()  # highlighted as Python
        assert page.evaluate("typeof htmx.ajax") == "function"  # served by the api, from node_modules
        screens.take(page, "create-from-code")
        page.get_by_role("button", name="Create function").click()
        page.wait_for_url("**/console/functions/greeter/test")

        page.get_by_label("Event name").fill("ada")
        type_into_editor(page, 0, '{"name": "Ada"}')
        page.get_by_role("button", name="Save event").click()
        expect(page.get_by_text("Test event ada is saved.")).to_be_visible()
        page.evaluate("window.notReloaded = true")
        page.get_by_role("button", name="Invoke").click()  # htmx: the result is swapped in, the page stays
        result = page.locator("#result")
        expect(result.locator(".status")).to_contain_text("Succeeded", timeout=45_000)
        expect(result.locator("#result-payload")).to_contain_text('"message": "Hello, Ada!"')
        log = result.locator("#result-log")
        expect(log).to_contain_text("greeting Ada")
        expect(log).to_contain_text(re.compile(
            r"REPORT RequestId: \S+\s+Duration: [\d.]+ ms\s+Billed Duration: \d+ ms\s+Memory Size: 128 MB\s+"
            r"Max Memory Used: \d+ MB\s+Init Duration: [\d.]+ ms"))
        expect(result.locator(".report")).to_contain_text("Init duration")
        assert page.evaluate("window.notReloaded") is True
        screens.take(page, "test-invoked")

        page.get_by_role("link", name="Environment variables").click()
        page.get_by_label("New variable name").fill("GREETING")
        page.get_by_label("New variable value").fill("Bonjour")
        page.get_by_role("button", name="Save variables").click()
        expect(page.get_by_text("The environment variables are saved.")).to_be_visible()
        value = page.get_by_label("Value of GREETING")
        expect(value).to_have_attribute("type", "password")
        screens.take(page, "environment-masked")
        page.get_by_role("button", name="Show").click()
        expect(value).to_have_attribute("type", "text")
        expect(value).to_have_value("Bonjour")
        screens.take(page, "environment-shown")

        page.get_by_role("link", name="Test", exact=True).click()
        expect(page.get_by_label("Event name")).to_have_value("ada")  # the saved event, chosen again
        page.get_by_role("button", name="Invoke").click()
        expect(result.locator("#result-payload")).to_contain_text('"message": "Bonjour, Ada!"', timeout=45_000)
        screens.take(page, "test-after-variable")

        page.get_by_role("link", name="Configuration").click()
        page.get_by_label("Memory (MB)").fill("64")
        page.get_by_role("button", name="Save configuration").click()
        expect(page.locator(".field.invalid")).to_contain_text("Ensure this value is greater than or equal to 128.")
        screens.take(page, "configuration-refused")

        page.goto(console_url + "functions/")
        expect(page.get_by_role("link", name="greeter")).to_be_visible()
        screens.take(page, "functions-list")

        other = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        sign_in(other, console_url, "eve")
        for tab in ("test", "configuration", "environment", "delete"):
            response = other.goto(f"{console_url}functions/greeter/{tab}")
            assert response is not None and response.status == 404
            expect(other.get_by_role("heading", name="Not found")).to_be_visible()
        screens.take(other, "other-tenant-404")
        expect(other.get_by_role("link", name="greeter")).to_have_count(0)
        browser.close()

    invocations = Invocation.objects.filter(tenant=alice.tenant, function_name="greeter")
    assert invocations.count() == 2
    assert {row.status for row in invocations} == {"succeeded"}


def curl(*args: str) -> tuple[int, dict[str, str], str]:
    """``curl -i`` against the live api: the status, the headers (lower-case names) and the body."""
    done = subprocess.run(["curl", "-sS", "-i", *args], capture_output=True, text=True, timeout=30, check=True)
    head, _, body = done.stdout.replace("\r\n", "\n").partition("\n\n")
    status_line, *lines = head.splitlines()
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def test_versions_aliases_ledger_access_keys_and_operators(chromium, console_url, make_member):
    from playwright.sync_api import expect, sync_playwright

    from lambent.functions.services import function_update_configuration, version_publish
    from tests.console.conftest import make_function

    if shutil.which("curl") is None:
        pytest.fail("curl is needed to use the access key against the api (apt-get install curl)")
    alice = make_member("acme", "alice")
    iam_services.user_create(tenant=make_member("globex", "mallory").tenant, username="eve", password=PASSWORD)
    make_function(alice.tenant, "greeter", HANDLER)
    version_publish(tenant=alice.tenant, function_name="greeter", description="first")
    function_update_configuration(tenant=alice.tenant, name="greeter", changes={"environment": {"GREETING": "Hi"}})
    make_function(alice.tenant, "parked", HANDLER)
    get_user_model().objects.create_user(username="olivia", password=PASSWORD, is_staff=True)
    api = console_url.removesuffix("/console/")
    screens = Screens(ARTIFACTS / "console-versions")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.set_default_timeout(20_000)
        sign_in(page, console_url, "alice")

        page.goto(console_url + "functions/greeter/versions")
        page.get_by_label("Version description").fill("with a greeting")
        page.get_by_role("button", name="Publish version").click()
        expect(page.get_by_text("Version 2 is published.")).to_be_visible()
        expect(page.locator("table.versions")).to_contain_text("with a greeting")
        screens.take(page, "versions")

        page.get_by_role("link", name="Aliases").click()
        page.get_by_label("Alias name").fill("live")
        page.get_by_label("Version", exact=True).select_option("2")
        page.get_by_label("Second version", exact=True).select_option("1")
        page.locator("input.weight").fill("10")
        expect(page.locator("output.weight-shown")).to_have_text("10")
        screens.take(page, "alias-weighted")
        page.get_by_role("button", name="Create alias").click()
        expect(page.get_by_text("Alias live is created.")).to_be_visible()
        expect(page.locator("table.aliases")).to_contain_text("1 (10%)")
        screens.take(page, "aliases")

        page.get_by_role("link", name="Test", exact=True).click()
        type_into_editor(page, 0, '{"name": "Ada"}')
        page.get_by_role("button", name="Invoke").click()
        expect(page.locator("#result #result-payload")).to_contain_text('"message": "Hi, Ada!"', timeout=45_000)
        page.get_by_role("link", name="Invocations").click()
        expect(page.locator("table.invocations tbody tr")).to_have_count(1)
        page.locator("table.invocations tbody a").first.click()
        expect(page.locator("#invocation-status")).to_have_text("succeeded")
        expect(page.locator("#invocation-log")).to_contain_text("greeting Ada")
        expect(page.locator("#invocation-log")).to_contain_text("REPORT RequestId:")
        greeter_invocation = page.url.rstrip("/").rsplit("/", 1)[1]
        screens.take(page, "invocation-log")

        page.goto(console_url + "functions/parked/concurrency")
        page.get_by_label("Reserved concurrency").fill("0")
        page.get_by_role("button", name="Save reserved concurrency").click()
        expect(page.get_by_text("it is stopped, its invocations are throttled")).to_be_visible()
        screens.take(page, "concurrency-stopped")

        page.get_by_role("link", name="Access keys").click()
        page.get_by_role("button", name="Issue an access key").click()
        key_id = page.locator("#issued-key-id").inner_text()
        secret = page.locator("#issued-secret").inner_text()
        screens.take(page, "access-key-issued")
        header = f"Authorization: Bearer {key_id}:{secret}"
        status, _, body = curl(f"{api}/api/v1/functions", "-H", header)
        assert status == 200 and {"greeter", "parked"} <= {item["name"] for item in json.loads(body)["results"]}
        status, headers, body = curl("-X", "POST", f"{api}/api/v1/functions/parked/invoke?type=Event",
                                     "-H", header, "-d", '{"name": "later"}')
        assert status == 202, body
        queued = headers["x-lambent-request-id"]
        page.get_by_role("link", name="Access keys").click()  # read again: the secret is not shown
        expect(page.locator("table.keys")).to_contain_text(key_id)
        expect(page.locator("#issued-secret")).to_have_count(0)

        page.goto(console_url + "functions/parked/invocations?status=queued")
        page.get_by_role("link", name=queued).click()
        expect(page.locator("#invocation-status")).to_have_text("queued")
        screens.take(page, "invocation-queued")
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Cancel invocation").click()
        expect(page.get_by_text(f"Invocation {queued} is cancelled.")).to_be_visible()
        expect(page.locator("#invocation-status")).to_have_text("cancelled")
        screens.take(page, "invocation-cancelled")

        other = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        sign_in(other, console_url, "eve")
        for path in ("functions/greeter/versions", "functions/greeter/aliases", "functions/greeter/aliases/live",
                     "functions/greeter/invocations", f"invocations/{greeter_invocation}", f"invocations/{queued}",
                     "functions/parked/concurrency", "functions/parked/asynchronous", "operator/tenants",
                     "operator/tenants/acme"):
            response = other.goto(console_url + path)
            assert response is not None and response.status == 404, path
            expect(other.get_by_role("heading", name="Not found")).to_be_visible()
        other.goto(console_url + "access-keys")
        expect(other.locator("table.keys")).not_to_contain_text(key_id)
        screens.take(other, "other-tenant-keys")

        operator = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
        sign_in(operator, console_url, "olivia")
        operator.get_by_role("link", name="Tenants").click()
        operator.get_by_label("Tenant name").fill("initech")
        operator.get_by_role("button", name="Create tenant").click()
        expect(operator.get_by_text("Tenant initech is created")).to_be_visible()
        expect(operator.locator("#created-secret")).not_to_be_empty()
        screens.take(operator, "operator-tenant-created")
        operator.get_by_role("link", name="initech").click()
        operator.get_by_label("Concurrency limit").fill("500")
        operator.get_by_role("button", name="Save limits").click()
        expect(operator.get_by_text("The limits of tenant initech are saved.")).to_be_visible()
        expect(operator.locator("#limit-in-force")).to_have_text("500")
        screens.take(operator, "operator-limits")
        browser.close()

    from lambent.quotas.models import ReservedConcurrency, TenantQuota

    assert ReservedConcurrency.objects.get(function__name="parked").reserved_concurrent_executions == 0
    assert TenantQuota.objects.get(tenant__name="initech").concurrent_executions == 500
    invocations = {str(row.request_id): row.status for row in Invocation.objects.filter(tenant=alice.tenant)}
    assert invocations == {greeter_invocation: "succeeded", queued: "cancelled"}
