"""The invocation ledger model: bounded logs, history that outlives its function."""

from lambent.functions.models import Function
from lambent.invocations.models import LOG_TAIL_LIMIT, Invocation, InvocationStatus, InvocationType


def record(tenant, **fields):
    function = Function.objects.get(tenant=tenant.tenant, name="hello")
    return Invocation.objects.create(tenant=tenant.tenant, function=function, function_name="hello",
                                     invocation_type=InvocationType.REQUEST_RESPONSE, **fields)


def test_a_new_invocation_is_queued_with_a_request_id(tenant, create_function):
    create_function()
    invocation = record(tenant)
    assert invocation.status == InvocationStatus.QUEUED
    assert len(str(invocation.request_id)) == 36


def test_log_tail_keeps_the_end_within_the_bound(tenant, create_function):
    create_function()
    lines = [f"line {i:06d}" for i in range(20000)]
    invocation = record(tenant, log_tail="\n".join(lines))
    invocation.refresh_from_db()
    assert len(invocation.log_tail) <= LOG_TAIL_LIMIT
    assert invocation.log_tail.endswith(lines[-1])
    assert invocation.log_tail.startswith("line ")


def test_ledger_outlives_the_function(api, tenant, create_function):
    create_function()
    invocation = record(tenant, status=InvocationStatus.SUCCEEDED, executed_version="$LATEST", duration_ms=1.5,
                        billed_duration_ms=2, max_memory_used_mb=30)
    assert api.delete("/api/v1/functions/hello").status_code == 204
    invocation.refresh_from_db()
    assert invocation.function is None
    assert invocation.function_name == "hello"
    assert (invocation.billed_duration_ms, invocation.max_memory_used_mb) == (2, 30)
