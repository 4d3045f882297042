"""Who may see each page: signed out is sent to sign in, another tenant's function is a 404 as one
that does not exist, every form refuses a post without its CSRF token, and the console's errors are
HTML pages while the APIs' stay JSON."""

from __future__ import annotations

import pytest

from lambent.functions.models import Alias, Function, ProvisionedConcurrencyConfig
from lambent.functions.services import alias_create, version_publish
from lambent.invocations.models import DeadLetterConfig, EventInvokeConfig, Invocation, InvocationStatus, InvocationType
from lambent.quotas.models import ReservedConcurrency
from tests.console.conftest import ConsoleClient
from tests.console.conftest import make_function as make_bare_function

pytestmark = pytest.mark.django_db

REQUEST_ID = "00000000-0000-4000-8000-00000000c0de"
TENANT_PAGES = ["/console/functions/", "/console/functions/new", "/console/password",
                "/console/functions/hello/configuration", "/console/functions/hello/environment",
                "/console/functions/hello/test", "/console/functions/hello/delete",
                "/console/functions/hello/versions", "/console/functions/hello/aliases",
                "/console/functions/hello/aliases/live", "/console/functions/hello/invocations",
                "/console/functions/hello/asynchronous", "/console/functions/hello/concurrency",
                f"/console/invocations/{REQUEST_ID}"]
FUNCTION_PAGES = [page for page in TENANT_PAGES if "/hello/" in page or REQUEST_ID in page]
#: Every form of the console and a post that would change something if it were let through.
FORMS = [
    ("/console/sign-in", {"username": "alice", "password": "correct horse battery staple"}),
    ("/console/sign-out", {}),
    ("/console/password", {"old_password": "x", "new_password1": "y", "new_password2": "y"}),
    ("/console/tenant", {"tenant": "acme"}),
    ("/console/functions/new", {"name": "made", "runtime": "python3.12", "handler": "app.handler",
                                "source": "editor", "code": "def handler(e, c):\n    return 1\n"}),
    ("/console/functions/hello/configuration", {"memory_size": "256"}),
    ("/console/functions/hello/environment", {"name": "A", "value": "1"}),
    ("/console/functions/hello/test", {"name": "ev", "payload": "{}", "action": "save"}),
    ("/console/functions/hello/versions", {"description": "v"}),
    ("/console/functions/hello/versions/1/delete", {}),
    ("/console/functions/hello/aliases", {"name": "new", "function_version": "1"}),
    ("/console/functions/hello/aliases/live", {"function_version": "$LATEST"}),
    ("/console/functions/hello/aliases/live/delete", {}),
    ("/console/functions/hello/asynchronous", {"action": "config", "maximum_retry_attempts": "0"}),
    ("/console/functions/hello/asynchronous", {"action": "dead-letter", "target": "https://example.com/x"}),
    ("/console/functions/hello/concurrency", {"action": "reserved", "reserved_concurrent_executions": "0"}),
    ("/console/functions/hello/concurrency", {"action": "provisioned", "qualifier": "1",
                                              "provisioned_concurrent_executions": "1"}),
    (f"/console/invocations/{REQUEST_ID}/cancel", {}),
    (f"/console/invocations/{REQUEST_ID}/redrive", {}),
    ("/console/functions/hello/delete", {"confirm": "hello"}),
]


def make_function(tenant) -> None:
    """``hello`` with version 1, alias ``live`` pointing at it and a queued asynchronous invocation."""
    make_bare_function(tenant)
    version_publish(tenant=tenant, function_name="hello")
    alias_create(tenant=tenant, function_name="hello", name="live", function_version="1")
    Invocation.objects.create(request_id=REQUEST_ID, tenant=tenant, function=Function.objects.get(tenant=tenant),
                              function_name="hello", invocation_type=InvocationType.EVENT)


def unchanged(tenant) -> bool:
    function = Function.objects.get(tenant=tenant)
    latest = function.versions.get(number=0)
    alias = Alias.objects.get(function=function)
    return (latest.memory_size == 128 and latest.environment == {} and not function.test_events.exists()
            and function.versions.count() == 2 and alias.name == "live" and alias.version.number == 1
            and Invocation.objects.get(request_id=REQUEST_ID).status == InvocationStatus.QUEUED
            and not EventInvokeConfig.objects.exists() and not DeadLetterConfig.objects.exists()
            and not ReservedConcurrency.objects.exists() and not ProvisionedConcurrencyConfig.objects.exists())


@pytest.mark.parametrize("path", TENANT_PAGES)
def test_signed_out_is_sent_to_sign_in(browser, member, path):
    make_function(member.tenant)
    response = browser.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/console/sign-in?next=")


@pytest.mark.parametrize("path", FUNCTION_PAGES)
def test_another_tenants_function_is_404_like_a_missing_one(signed_in, outsider, path):
    make_function(outsider.tenant)
    response = signed_in.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    missing = signed_in.get(path.replace("/hello/", "/nothing/").replace(REQUEST_ID, REQUEST_ID[:-4] + "0000"))
    assert missing.status_code == 404


@pytest.mark.parametrize("path,data", [form for form in FORMS if "/hello/" in form[0] or REQUEST_ID in form[0]])
def test_posts_to_another_tenants_function_are_404_and_change_nothing(signed_in, outsider, path, data):
    make_function(outsider.tenant)
    assert signed_in.submit(path, data).status_code == 404
    assert unchanged(outsider.tenant)


@pytest.mark.parametrize("path,data", FORMS)
def test_every_form_refuses_a_post_without_its_csrf_token(signed_in, member, path, data):
    make_function(member.tenant)
    response = signed_in.post(path, data)  # the session cookie, but no token
    assert response.status_code == 403
    assert b"CSRF" in response.content
    assert Function.objects.filter(tenant=member.tenant).count() == 1
    assert unchanged(member.tenant)
    assert signed_in.get("/console/functions/").status_code == 200  # still signed in


def test_a_token_from_another_session_is_refused(signed_in, member):
    make_function(member.tenant)
    stranger = ConsoleClient()
    response = signed_in.post("/console/functions/hello/delete",
                              {"confirm": "hello", "csrfmiddlewaretoken": stranger.token()})
    assert response.status_code == 403
    assert Function.objects.filter(name="hello").exists()


def test_an_unknown_console_path_is_an_html_404_and_api_paths_stay_json(browser, db):
    response = browser.get("/console/no-such-page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert b"Not found" in response.content
    api = browser.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api["Content-Type"] == "application/json"
    assert browser.get("/nothing-here")["Content-Type"] == "application/json"


def test_the_console_is_not_served_by_the_api_handler():
    from lambent.api.handler import API_PATHS

    assert not API_PATHS.match("/console/")
    assert not API_PATHS.match("/console/functions/hello/test")
    assert API_PATHS.match("/api/v1/functions")


def test_the_console_root_leads_to_the_functions(signed_in):
    response = signed_in.get("/console/")
    assert response.status_code == 302 and response["Location"] == "/console/functions/"


@pytest.mark.parametrize("path,start", [("console/vendor/htmx/htmx.min.js", b"var htmx"),
                                        ("console/vendor/codemirror/lib/codemirror.js", b"// CodeMirror"),
                                        ("console/vendor/codemirror/mode/python/python.js", b"// CodeMirror"),
                                        ("console/editor.js", b"// Every")])
def test_the_browser_libraries_are_served_from_node_modules(browser, path, start):
    response = browser.get(f"/static/{path}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(start)
