"""A function's invocations tab (the ledger and its filters) and one invocation's page: attempts,
log, cancelling a queued asynchronous invocation and redriving a failed one."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from lambent.functions.models import Function
from lambent.functions.services import version_publish
from lambent.invocations.models import Attempt, AttemptOutcome, Invocation, InvocationStatus, InvocationType
from tests.console.conftest import errors_of, make_function

pytestmark = pytest.mark.django_db


def record(tenant, name: str = "hello", **fields) -> Invocation:
    function = Function.objects.get(tenant=tenant, name=name)
    fields.setdefault("invocation_type", InvocationType.EVENT)
    return Invocation.objects.create(tenant=tenant, function=function, function_name=name, **fields)


def listed(response) -> list[str]:
    return re.findall(r'href="/console/invocations/([0-9a-f-]{36})"', response.content.decode())


def test_the_ledger_newest_first_with_its_filters(signed_in, member):
    make_function(member.tenant)
    make_function(member.tenant, "other")
    old = record(member.tenant, status=InvocationStatus.SUCCEEDED, invocation_type=InvocationType.REQUEST_RESPONSE)
    Invocation.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    failed = record(member.tenant, status=InvocationStatus.FAILED)
    queued = record(member.tenant)
    record(member.tenant, "other")
    response = signed_in.get("/console/functions/hello/invocations")
    assert response.status_code == 200
    assert listed(response) == [str(queued.request_id), str(failed.request_id), str(old.request_id)]
    assert listed(signed_in.get("/console/functions/hello/invocations?status=failed")) == [str(failed.request_id)]
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert listed(signed_in.get(f"/console/functions/hello/invocations?since={since}")) == \
        [str(queued.request_id), str(failed.request_id)]
    assert listed(signed_in.get(f"/console/functions/hello/invocations?until={since}")) == [str(old.request_id)]
    expired = signed_in.get("/console/functions/hello/invocations?status=expired")
    assert "match these filters" in expired.content.decode()


@pytest.mark.parametrize("query,field,message", [
    ("status=lost", "status", '"lost" is not a valid choice.'),
    ("since=yesterday", "since", "Datetime has wrong format."),
])
def test_a_bad_filter_shows_the_message_beside_it_and_lists_nothing(signed_in, member, query, field, message):
    make_function(member.tenant)
    record(member.tenant)
    response = signed_in.get(f"/console/functions/hello/invocations?{query}")
    assert response.status_code == 400
    assert any(message in error for error in errors_of(response, field=field)), errors_of(response)
    assert listed(response) == []


def test_an_invocation_with_its_attempts_and_its_log(signed_in, member):
    make_function(member.tenant)
    invocation = record(member.tenant, status=InvocationStatus.SUCCEEDED, executed_version="$LATEST", attempt_count=2,
                        log_tail="START RequestId: x\nhello from the handler\nEND RequestId: x\n")
    now = timezone.now()
    Attempt.objects.create(invocation=invocation, number=1, outcome=AttemptOutcome.FUNCTION_ERROR, started_at=now,
                           finished_at=now, error_type="ValueError", error_message="bad input")
    Attempt.objects.create(invocation=invocation, number=2, outcome=AttemptOutcome.SUCCEEDED, started_at=now,
                           finished_at=now, duration_ms=3.5)
    page = signed_in.get(f"/console/invocations/{invocation.request_id}").content.decode()
    assert "hello from the handler" in page
    assert "ValueError: bad input" in page and "3.50 ms" in page
    assert page.index("function_error") < page.index("<td>succeeded</td>")
    assert "Cancel invocation" not in page and "Redrive" not in page


def test_cancel_a_queued_asynchronous_invocation(signed_in, member):
    make_function(member.tenant)
    invocation = record(member.tenant)
    assert "Cancel invocation" in signed_in.get(f"/console/invocations/{invocation.request_id}").content.decode()
    response = signed_in.submit(f"/console/invocations/{invocation.request_id}/cancel")
    assert response.status_code == 302
    invocation.refresh_from_db()
    assert invocation.status == InvocationStatus.CANCELLED
    response = signed_in.submit(f"/console/invocations/{invocation.request_id}/cancel")  # again: too late
    assert response.status_code == 409
    assert any("is cancelled; only queued or retrying ones can be cancelled" in error for error in errors_of(response))


def test_a_synchronous_invocation_cannot_be_cancelled(signed_in, member):
    make_function(member.tenant)
    invocation = record(member.tenant, invocation_type=InvocationType.REQUEST_RESPONSE)
    response = signed_in.submit(f"/console/invocations/{invocation.request_id}/cancel")
    assert response.status_code == 409
    invocation.refresh_from_db()
    assert invocation.status == InvocationStatus.QUEUED


def test_redrive_a_failed_one_on_its_own_or_another_version(signed_in, member):
    make_function(member.tenant)
    version_publish(tenant=member.tenant, function_name="hello")
    invocation = record(member.tenant, status=InvocationStatus.FAILED)
    response = signed_in.submit(f"/console/invocations/{invocation.request_id}/redrive", {"qualifier": "9"})
    assert response.status_code == 400
    assert any("Function not found" in error for error in errors_of(response, field="qualifier"))
    response = signed_in.submit(f"/console/invocations/{invocation.request_id}/redrive", {"qualifier": "no way!"})
    assert response.status_code == 400 and errors_of(response, field="qualifier")
    invocation.refresh_from_db()
    assert invocation.status == InvocationStatus.FAILED and invocation.redrive_count == 0
    response = signed_in.submit(f"/console/invocations/{invocation.request_id}/redrive", {"qualifier": "1"})
    assert response.status_code == 302
    invocation.refresh_from_db()
    assert (invocation.status, invocation.qualifier, invocation.redrive_count) == (InvocationStatus.QUEUED, "1", 1)


def test_another_tenants_invocation_is_404_and_stays_as_it_is(signed_in, outsider):
    make_function(outsider.tenant)
    queued = record(outsider.tenant)
    failed = record(outsider.tenant, status=InvocationStatus.FAILED)
    assert signed_in.get(f"/console/invocations/{queued.request_id}").status_code == 404
    assert signed_in.get("/console/invocations/not-a-uuid").status_code == 404
    assert signed_in.submit(f"/console/invocations/{queued.request_id}/cancel").status_code == 404
    assert signed_in.submit(f"/console/invocations/{failed.request_id}/redrive").status_code == 404
    assert {row.status for row in Invocation.objects.all()} == {InvocationStatus.QUEUED, InvocationStatus.FAILED}
    assert Invocation.objects.get(pk=failed.pk).redrive_count == 0
