"""A function's asynchronous invocation tab: the event invoke config of a qualifier and the
function's dead-letter target, with the API's messages beside the fields."""

from __future__ import annotations

import pytest

from lambent.functions.services import alias_create, version_publish
from lambent.invocations.models import DeadLetterConfig, EventInvokeConfig
from tests.console.conftest import errors_of, make_function

pytestmark = pytest.mark.django_db

TAB = "/console/functions/hello/asynchronous"


def test_the_defaults_then_a_saved_config_of_latest(signed_in, member):
    make_function(member.tenant)
    make_function(member.tenant, "audit")
    page = signed_in.get(TAB).content.decode()
    assert 'value="2"' in page and 'value="21600"' in page
    arn = f"arn:aws:lambda:us-east-1:{member.tenant.account_id}:function:audit"
    response = signed_in.submit(TAB, {"action": "config", "maximum_retry_attempts": "0",
                                      "maximum_event_age_seconds": "120", "on_failure": arn, "on_success": ""})
    assert response.status_code == 302 and response["Location"] == f"{TAB}?qualifier=%24LATEST"
    config = EventInvokeConfig.objects.get(qualifier="$LATEST")
    assert (config.maximum_retry_attempts, config.maximum_event_age_seconds, config.on_failure, config.on_success) \
        == (0, 120, arn, "")
    assert "(configured)" in signed_in.get(TAB).content.decode()


def test_an_alias_has_its_own_config(signed_in, member):
    make_function(member.tenant)
    version_publish(tenant=member.tenant, function_name="hello")
    alias_create(tenant=member.tenant, function_name="hello", name="live", function_version="1")
    response = signed_in.submit(f"{TAB}?qualifier=live", {"action": "config", "maximum_retry_attempts": "1",
                                                          "maximum_event_age_seconds": "60"})
    assert response.status_code == 302
    assert list(EventInvokeConfig.objects.values_list("qualifier", "maximum_retry_attempts")) == [("live", 1)]
    assert signed_in.get(f"{TAB}?qualifier=nothing").status_code == 404


@pytest.mark.parametrize("data,field,message", [
    ({"maximum_retry_attempts": "3"}, "maximum_retry_attempts", "less than or equal to 2"),
    ({"maximum_retry_attempts": "two"}, "maximum_retry_attempts", "Must be an integer."),
    ({"maximum_event_age_seconds": "59"}, "maximum_event_age_seconds", "greater than or equal to 60"),
    ({"on_success": "mailto:me"}, "on_success", "A function or queue ARN, an http(s) URL, or empty for none."),
    ({"on_failure": "arn:aws:lambda:us-east-1:000000000000:function:theirs"}, "on_failure",
     "is not a function of this account"),
])
def test_bad_input_shows_the_message_beside_the_field_and_saves_nothing(signed_in, member, data, field, message):
    make_function(member.tenant)
    response = signed_in.submit(TAB, {"action": "config", "maximum_retry_attempts": "1",
                                      "maximum_event_age_seconds": "100", **data})
    assert response.status_code == 400
    assert any(message in error for error in errors_of(response, field=field)), errors_of(response)
    assert not EventInvokeConfig.objects.exists()


def test_set_refuse_and_remove_the_dead_letter_target(signed_in, member):
    make_function(member.tenant)
    make_function(member.tenant, "graveyard")
    arn = f"arn:aws:lambda:us-east-1:{member.tenant.account_id}:function:graveyard"
    response = signed_in.submit(TAB, {"action": "dead-letter", "target": "ftp://nowhere"})
    assert response.status_code == 400
    assert any("A function or queue ARN, or an http(s) URL." in error for error in errors_of(response, field="target"))
    assert not DeadLetterConfig.objects.exists()
    assert signed_in.submit(TAB, {"action": "dead-letter", "target": arn}).status_code == 302
    assert DeadLetterConfig.objects.get().target == arn
    assert f'value="{arn}"' in signed_in.get(TAB).content.decode()
    assert signed_in.submit(TAB, {"action": "dead-letter", "target": ""}).status_code == 302
    assert not DeadLetterConfig.objects.exists()
