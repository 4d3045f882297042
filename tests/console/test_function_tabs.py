"""A function's tabs: configuration and environment variables through the REST API's serializer
and service (its messages beside the fields, nothing written on bad input), and the test tab's
saved events and synchronous invocations (on the in-memory executor; tests/console/test_browser.py
runs real sandboxes)."""

from __future__ import annotations

import re

import pytest

from lambent.console.models import TestEvent
from lambent.functions.selectors import latest_get
from lambent.invocations.models import Invocation, InvocationStatus
from tests.console.conftest import errors_of, make_function

pytestmark = pytest.mark.django_db

CONFIGURATION = {"runtime": "python3.12", "handler": "app.handler", "memory_size": "256", "timeout": "10",
                 "ephemeral_storage": "1024", "description": "Says hello"}


def test_the_configuration_tab_shows_the_values(signed_in, member):
    make_function(member.tenant, memory_size=512, description="Greets")
    page = signed_in.get("/console/functions/hello/configuration").content.decode()
    assert 'name="memory_size" value="512"' in page and "Greets" in page
    assert 'aria-current="page">Configuration' in page


def test_saving_the_configuration(signed_in, member):
    make_function(member.tenant)
    response = signed_in.submit("/console/functions/hello/configuration", CONFIGURATION)
    assert response.status_code == 302
    latest = latest_get(tenant=member.tenant, function_name="hello")
    assert (latest.memory_size, latest.timeout, latest.ephemeral_storage, latest.description) == \
        (256, 10, 1024, "Says hello")


@pytest.mark.parametrize("field,value,message", [
    ("memory_size", "64", "Ensure this value is greater than or equal to 128."),
    ("memory_size", "lots", "Must be an integer."),
    ("timeout", "", "Must be an integer."),
    ("timeout", "901", "Ensure this value is less than or equal to 900."),
    ("ephemeral_storage", "100", "Ensure this value is greater than or equal to 512."),
    ("handler", "app.other", "names module 'app', but"),
    ("handler", "lib.handler", "the code has no lib.py"),
    ("runtime", "cobol", '"cobol" is not a valid choice.'),
    ("description", "x" * 257, "Ensure this field has no more than 256 characters."),
])
def test_bad_configuration_shows_the_apis_message_beside_the_field(signed_in, member, field, value, message):
    make_function(member.tenant)
    before = latest_get(tenant=member.tenant, function_name="hello").revision_id
    response = signed_in.submit("/console/functions/hello/configuration", {**CONFIGURATION, field: value})
    if field == "handler" and value == "app.other":  # a function the module does not have is found at invoke
        assert response.status_code == 302
        return
    assert response.status_code == 400
    assert any(message in error for error in errors_of(response, field=field)), errors_of(response)
    if field not in ("description", "runtime") and value:
        assert f'value="{value}"' in response.content.decode()  # what was typed stays, to be fixed
    assert latest_get(tenant=member.tenant, function_name="hello").revision_id == before


def test_the_same_value_is_refused_with_the_same_words_by_the_rest_api(signed_in, member):
    from tests.conftest import client_for

    make_function(member.tenant)
    api = client_for(member.new_tenant).patch("/api/v1/functions/hello", {"memory_size": 64}, format="json")
    console = signed_in.submit("/console/functions/hello/configuration", {**CONFIGURATION, "memory_size": "64"})
    assert api.json()["fields"]["memory_size"] == errors_of(console, field="memory_size")


def test_environment_values_are_masked_until_shown(signed_in, member):
    make_function(member.tenant, environment={"TOKEN": "s3cret"})
    page = signed_in.get("/console/functions/hello/environment").content.decode()
    value_input = re.search(r'<input id="value-0"[^>]*>', page).group(0)
    assert 'type="password"' in value_input and 'value="s3cret"' in value_input
    assert 'aria-controls="value-0"' in page  # the button that shows it


def test_adding_changing_and_removing_variables(signed_in, member):
    make_function(member.tenant, environment={"KEEP": "1", "DROP": "2"})
    response = signed_in.submit("/console/functions/hello/environment", {
        "name": ["DROP", "KEEP", "GREETING"], "value": ["2", "one", "hi"], "remove": ["0"]})
    assert response.status_code == 302
    assert latest_get(tenant=member.tenant, function_name="hello").environment == {"KEEP": "one", "GREETING": "hi"}


@pytest.mark.parametrize("names,values,message", [
    (["1BAD"], ["x"], "'1BAD': A variable name is a letter followed by letters, digits or '_'."),
    (["AWS_REGION"], ["x"], "'AWS_REGION' is reserved by the platform."),
    (["BIG"], ["x" * 5000], "Variables take 5003 bytes; the limit is 4096 bytes."),
    (["TWICE", "TWICE"], ["a", "b"], "Each variable name may appear once."),
])
def test_bad_variables_show_the_apis_message_and_change_nothing(signed_in, member, names, values, message):
    make_function(member.tenant, environment={"KEEP": "1"})
    response = signed_in.submit("/console/functions/hello/environment", {"name": names, "value": values})
    assert response.status_code == 400
    assert any(message in error for error in errors_of(response)), errors_of(response)
    assert latest_get(tenant=member.tenant, function_name="hello").environment == {"KEEP": "1"}


def test_saving_choosing_and_deleting_test_events(signed_in, member):
    make_function(member.tenant)
    response = signed_in.submit("/console/functions/hello/test", {"name": "first", "payload": '{"n": 1}',
                                                                  "action": "save"})
    assert response.status_code == 302 and response["Location"].endswith("?event=first")
    signed_in.submit("/console/functions/hello/test", {"name": "second", "payload": '{"n": 2}', "action": "save"})
    signed_in.submit("/console/functions/hello/test", {"name": "first", "payload": '{"n": 11}', "action": "save"})
    assert dict(TestEvent.objects.values_list("name", "payload")) == {"first": '{"n": 11}', "second": '{"n": 2}'}
    page = signed_in.get("/console/functions/hello/test?event=second").content.decode()
    assert "{&quot;n&quot;: 2}" in page
    signed_in.submit("/console/functions/hello/test", {"name": "second", "payload": "{}", "action": "delete"})
    assert list(TestEvent.objects.values_list("name", flat=True)) == ["first"]


@pytest.mark.parametrize("name,payload,field,message", [
    ("ok", "{not json", "payload", "Not JSON"),
    ("no spaces", "{}", "name", "1-64 letters, digits"),
])
def test_a_bad_test_event_is_not_saved(signed_in, member, name, payload, field, message):
    make_function(member.tenant)
    response = signed_in.submit("/console/functions/hello/test", {"name": name, "payload": payload,
                                                                  "action": "save"})
    assert response.status_code == 400
    assert any(message in error for error in errors_of(response, field=field)), errors_of(response)
    assert not TestEvent.objects.exists()


def test_invoking_shows_the_result_the_log_and_the_report(signed_in, member, fake_executor):
    make_function(member.tenant, environment={"GREETING": "hej"})
    response = signed_in.submit("/console/functions/hello/test", {"name": "ev", "payload": '{"n": 7}',
                                                                  "action": "invoke"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Succeeded" in page
    assert "&quot;greeting&quot;: &quot;hej&quot;" in page and "&quot;n&quot;: 7" in page
    assert re.search(r"REPORT RequestId: [0-9a-f-]+\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms", page)
    assert "Billed duration</dt>" in page and "of 128 MB" in page
    invocation = Invocation.objects.get(tenant=member.tenant)
    assert str(invocation.request_id) in page and invocation.status == InvocationStatus.SUCCEEDED
    assert not TestEvent.objects.exists()  # invoking does not save


def test_a_function_error_and_a_bad_payload(signed_in, member, fake_executor):
    make_function(member.tenant, source="def handler(event, context):\n    raise ValueError('nope')\n")
    page = signed_in.submit("/console/functions/hello/test", {"name": "ev", "payload": "{}",
                                                              "action": "invoke"}).content.decode()
    assert "Failed (Unhandled)" in page and "nope" in page
    page = signed_in.submit("/console/functions/hello/test", {"name": "ev", "payload": "[1, 2",
                                                              "action": "invoke"}).content.decode()
    assert "Could not parse request body into json" in page
    assert Invocation.objects.count() == 1


def test_an_htmx_invoke_gets_the_same_page_to_select_the_result_from(signed_in, member, fake_executor):
    make_function(member.tenant)
    response = signed_in.submit("/console/functions/hello/test", {"name": "ev", "payload": "{}", "action": "invoke"},
                                HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and '<section id="result"' in response.content.decode()
