"""Concurrent receivers never get the same message while it is hidden.

These tests commit for real (``transactional_db``) and receive from threads, each with its
own database connection: on PostgreSQL row locks with SKIP LOCKED keep receivers apart, on
SQLite the write lock taken at BEGIN IMMEDIATE does.

Django tests SQLite on an in-memory database in shared-cache mode, where a lock conflict
fails at once ("database table is locked") instead of waiting as the file database of
``make dev`` does. So on SQLite the receiving threads use a file copy of the test database,
opened with the settings the platform runs with (WAL, IMMEDIATE transactions, busy timeout).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections, transaction

from lambent.queues import selectors, services

MESSAGES = 60


@pytest.fixture
def loaded(transactional_db, tenant):
    queue = services.queue_create(tenant=tenant.tenant, name="jobs")
    for number in range(MESSAGES):
        services.message_send(tenant=tenant.tenant, queue=queue, body=str(number))
    return tenant.tenant, selectors.queue_get(tenant=tenant.tenant, name="jobs")


@pytest.fixture
def run_in_threads(loaded, tmp_path: Path) -> Callable[[Callable[[int], Any], int], list[Any]]:
    """Runs ``target(index)`` in ``count`` threads, each on its own connection, and returns their
    results; any error in a thread fails the test."""
    use_database = _file_copy(tmp_path / "queues.sqlite3") if connection.vendor == "sqlite" else None

    def run_all(target: Callable[[int], Any], count: int) -> list[Any]:
        return _run_in_threads(target, count, use_database=use_database)

    return run_all


def _file_copy(path: Path) -> Callable[[], None]:
    """Copy the in-memory test database to ``path``; the function returned makes the calling
    thread's default connection use that file."""
    connection.ensure_connection()
    with contextlib.closing(sqlite3.connect(path)) as target:
        connection.connection.backup(target)
    wrapper, file_settings = type(connections["default"]), {**connection.settings_dict, "NAME": str(path)}

    def use_file() -> None:
        connections["default"] = wrapper(file_settings, "default")  # this thread's connection only

    return use_file


def _run_in_threads(target: Callable[[int], Any], count: int, *, use_database: Callable[[], None] | None
                    ) -> list[Any]:
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            if use_database:
                use_database()
            results[index] = target(index)
        except BaseException as error:  # reported to the test below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def test_concurrent_receivers_get_disjoint_sets(loaded, run_in_threads):
    tenant, queue = loaded
    start = threading.Barrier(4)

    def drain(index: int) -> list[str]:
        start.wait(timeout=10)
        taken: list[str] = []
        while batch := services.messages_receive(tenant=tenant, queue=queue, max_messages=3):
            taken += [message.body for message in batch]
        return taken

    sets = run_in_threads(drain, 4)
    everything = [body for taken in sets for body in taken]
    assert sorted(everything, key=int) == [str(number) for number in range(MESSAGES)]  # each exactly once


@pytest.mark.skipif(not connection.features.has_select_for_update_skip_locked,
                    reason="without row locks (SQLite) a receive holds the database's write lock, so two "
                           "receive transactions cannot be open at once; the test above covers that case")
def test_receivers_in_overlapping_transactions_take_different_messages(loaded, run_in_threads):
    """Both receive transactions stay open until both have received: the second must skip the
    rows the first holds (neither wait for them nor take them again)."""
    tenant, queue = loaded
    both_received = threading.Barrier(2)

    def receive_and_hold(index: int) -> list[str]:
        with transaction.atomic():
            batch = services.messages_receive(tenant=tenant, queue=queue, max_messages=10)
            both_received.wait(timeout=10)
        return [message.body for message in batch]

    first, second = run_in_threads(receive_and_hold, 2)
    assert len(first) == len(second) == 10
    assert not set(first) & set(second)
    assert sorted(first + second, key=int) == [str(number) for number in range(20)]
