"""The api process's ledger writer: synchronous invocations' rows in batches, none left behind."""

import asyncio
import uuid

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from lambent.functions.models import Function
from lambent.invocations import ledger_writer
from lambent.invocations.models import Invocation, InvocationStatus, InvocationType


@pytest.fixture
def rows(tenant, create_function):
    create_function()
    function = Function.objects.get(tenant=tenant.tenant, name="hello")

    def make(count):
        return [Invocation(request_id=uuid.uuid4(), tenant=tenant.tenant, function=function, function_name="hello",
                           invocation_type=InvocationType.REQUEST_RESPONSE, status=InvocationStatus.SUCCEEDED)
                for _ in range(count)]
    return make


def inserts(queries):
    return [query for query in queries if query["sql"].startswith("INSERT")]


def test_rows_recorded_together_share_one_insert(rows):
    batch = rows(5)

    async def serve():
        ledger_writer.start()
        try:
            for row in batch:
                await ledger_writer.record(row)
        finally:
            await ledger_writer.stop()

    with CaptureQueriesContext(connection) as queries:
        async_to_sync(serve)()
    assert len(inserts(queries.captured_queries)) == 1
    assert set(Invocation.objects.values_list("request_id", flat=True)) == {row.request_id for row in batch}


def test_a_row_is_written_once_the_linger_is_over(rows):
    [row] = rows(1)

    async def serve():
        ledger_writer.start()
        try:
            await ledger_writer.record(row)
            await asyncio.sleep(ledger_writer.LINGER_S * 20)
            return await sync_to_async(Invocation.objects.filter(request_id=row.request_id).exists)()
        finally:
            await ledger_writer.stop()

    assert async_to_sync(serve)()  # written by the writer's own turn, before stop()


def test_without_a_writer_a_row_is_written_at_once(rows):
    [row] = rows(1)
    async_to_sync(ledger_writer.record)(row)
    assert Invocation.objects.filter(request_id=row.request_id).exists()


@pytest.mark.django_db(transaction=True)  # the failed INSERT ends its own transaction, as in the api
def test_a_failed_write_is_logged_and_the_writer_serves_on(rows, caplog):
    first, second = rows(2)
    first.tenant_id = None  # NOT NULL: this batch fails

    async def serve():
        ledger_writer.start()
        try:
            await ledger_writer.record(first)
            await ledger_writer.stop()
            ledger_writer.start()
            await ledger_writer.record(second)
        finally:
            await ledger_writer.stop()

    async_to_sync(serve)()
    assert "1 synchronous invocations could not be written to the ledger" in caplog.text
    assert list(Invocation.objects.values_list("request_id", flat=True)) == [second.request_id]
