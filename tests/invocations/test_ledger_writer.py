"""The api process's ledger writer: synchronous invocations' rows in batches, none left behind."""

import asyncio
import uuid

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from lambent.functions.models import Function
from lambent.invocations import ledger_writer
from lambent.invocations.models import Invocation, InvocationStatus, InvocationType


@pytest.fixture
def rows(tenant, create_function):
    create_function()
    function = Function.objects.get(tenant=tenant.tenant, name="hello")

    def make(count):
        return [ledger_writer.LedgerRow(request_id=uuid.uuid4(), tenant_id=tenant.tenant.pk, function_id=function.pk,
                                        function_name="hello", qualifier="", executed_version="$LATEST",
                                        status=InvocationStatus.SUCCEEDED, started_at=timezone.now())
                for _ in range(count)]
    return make


LINGER_S = 0.01


@pytest.fixture(autouse=True)
def linger(settings):
    settings.LEDGER_LINGER_MS = LINGER_S * 1000


def inserts(queries):
    """The INSERT statements run (an ``executemany`` of N rows is one, recorded as "N times: INSERT ...")."""
    return [query for query in queries if query["sql"].partition(": ")[2 if " times: " in query["sql"] else 0]
            .startswith("INSERT")]


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
            await asyncio.sleep(LINGER_S * 20)
            return await sync_to_async(Invocation.objects.filter(request_id=row.request_id).exists)()
        finally:
            await ledger_writer.stop()

    assert async_to_sync(serve)()  # written by the writer's own turn, before stop()


def test_a_read_of_the_ledger_finds_a_row_still_lingering(rows, api, settings):
    settings.LEDGER_LINGER_MS = 60_000  # the linger would not write it during the test
    [row] = rows(1)

    async def serve():
        ledger_writer.start()
        try:
            await ledger_writer.record(row)
            one = await sync_to_async(api.get)(f"/api/v1/invocations/{row.request_id}")
            listed = await sync_to_async(api.get)("/api/v1/invocations")
            return one, listed
        finally:
            await ledger_writer.stop()

    one, listed = async_to_sync(serve)()
    assert one.status_code == 200, one.content
    assert one.json()["request_id"] == str(row.request_id)
    assert [item["request_id"] for item in listed.json()["results"]] == [str(row.request_id)]


def test_rows_written_for_a_read_are_not_written_again_by_the_linger(rows):
    batch = rows(3)

    async def serve():
        ledger_writer.start()
        try:
            for row in batch:
                await ledger_writer.record(row)
            await sync_to_async(ledger_writer.write_waiting)()
            await asyncio.sleep(LINGER_S * 5)  # the linger's turn comes and finds nothing
        finally:
            await ledger_writer.stop()

    with CaptureQueriesContext(connection) as queries:
        async_to_sync(serve)()
    assert len(inserts(queries.captured_queries)) == 1
    assert Invocation.objects.count() == 3


def test_without_a_writer_a_row_is_written_at_once(rows):
    [row] = rows(1)
    async_to_sync(ledger_writer.record)(row)
    assert Invocation.objects.filter(request_id=row.request_id).exists()


@pytest.mark.django_db(transaction=True)  # the refused INSERT ends its own transaction, as in the api
def test_a_row_the_database_refuses_is_logged_and_dropped_and_its_batch_written(rows, caplog):
    first, second = rows(2)
    first.tenant_id = None  # NOT NULL: refused for what it holds, as it would be every time

    async def serve():
        ledger_writer.start()
        try:
            await ledger_writer.record(first)
            await ledger_writer.record(second)  # in the same batch
        finally:
            await ledger_writer.stop()

    async_to_sync(serve)()
    assert "a synchronous invocation could not be written to the ledger" in caplog.text
    assert list(Invocation.objects.values_list("request_id", flat=True)) == [second.request_id]


@pytest.mark.django_db(transaction=True)
def test_a_row_whose_function_was_deleted_meanwhile_is_kept_by_name(rows, tenant):
    from lambent.functions.models import Function

    [row] = rows(1)
    Function.objects.filter(pk=row.function_id).delete()
    async_to_sync(ledger_writer.record)(row)
    kept = Invocation.objects.get(request_id=row.request_id)
    assert (kept.function_id, kept.function_name) == (None, "hello")


def test_a_linger_of_0_writes_each_row_before_record_returns(rows, settings):
    settings.LEDGER_LINGER_MS = 0
    [row] = rows(1)

    async def serve():
        ledger_writer.start()
        try:
            await ledger_writer.record(row)
            return await sync_to_async(Invocation.objects.filter(request_id=row.request_id).exists)()
        finally:
            await ledger_writer.stop()

    assert async_to_sync(serve)()


def test_rows_wait_while_the_database_is_away_and_are_written_when_it_answers(rows, monkeypatch, caplog):
    batch = rows(3)
    insert = ledger_writer._insert
    outage = [OperationalError("the database is restarting")] * 2

    async def flaky(rows):
        if outage:
            raise outage.pop()
        await insert(rows)

    monkeypatch.setattr(ledger_writer, "_insert", flaky)
    monkeypatch.setattr(ledger_writer, "RETRY_S", 0.01)

    async def serve():
        ledger_writer.start()
        try:
            await ledger_writer.record(batch[0])
            await asyncio.sleep(LINGER_S * 3)  # the first try fails
            for row in batch[1:]:
                await ledger_writer.record(row)
            for _ in range(200):  # the writer tries again on its own
                if await sync_to_async(Invocation.objects.count)() == 3:
                    return True
                await asyncio.sleep(0.01)
            return False
        finally:
            await ledger_writer.stop()

    assert async_to_sync(serve)()
    assert not outage
    assert "the ledger waits for the database" in caplog.text


def test_a_backlog_beyond_its_bound_drops_the_oldest_rows(rows, monkeypatch, caplog):
    batch = rows(5)
    insert = ledger_writer._insert
    away = [True]

    async def flaky(rows):
        if away[0]:
            raise OperationalError("the database is away")
        await insert(rows)

    monkeypatch.setattr(ledger_writer, "_insert", flaky)
    monkeypatch.setattr(ledger_writer, "BACKLOG_MAX", 3)
    monkeypatch.setattr(ledger_writer, "RETRY_S", 0.01)

    async def serve():
        ledger_writer.start()
        try:
            for row in batch:
                await ledger_writer.record(row)
            await asyncio.sleep(LINGER_S * 3)
            away[0] = False
        finally:
            await ledger_writer.stop()

    async_to_sync(serve)()
    assert set(Invocation.objects.values_list("request_id", flat=True)) == {row.request_id for row in batch[2:]}
    assert "2 synchronous invocations were dropped from the ledger" in caplog.text


def test_a_row_is_written_with_every_field_the_ledger_shows(rows):
    [row] = rows(1)
    row.duration_ms, row.billed_duration_ms, row.max_memory_used_mb, row.log_tail = 1.5, 2, 40, "START ..."
    async_to_sync(ledger_writer.record)(row)
    kept = Invocation.objects.get(request_id=row.request_id)
    assert (kept.invocation_type, kept.status, kept.duration_ms, kept.billed_duration_ms) == (
        InvocationType.REQUEST_RESPONSE, InvocationStatus.SUCCEEDED, 1.5, 2)
    assert (kept.max_memory_used_mb, kept.log_tail, kept.created_at) == (40, "START ...", row.started_at)
    assert (kept.payload, kept.attempt_count, kept.fence) == (b"", 0, 0)
