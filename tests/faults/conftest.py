"""The fault suite (``-m faults``): each test breaks one part of a running platform under load.

It needs PostgreSQL (one fault ends its connections) and root (another drops packets with
nftables); elsewhere it is skipped, unless ``LAMBENT_TEST_REQUIRE_SANDBOX`` asks for every test
that needs root (``.ci/run`` sets it and runs this suite in its PostgreSQL pass). At the end of
the session, the reports of the faults that ran are printed as one table.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.db import connection

from tests.faults.load import HEADER, Report
from tests.faults.stack import Stack

REPORTS: list[Report] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in item.nodeid:
            item.add_marker(pytest.mark.faults)


@pytest.fixture
def stack(transactional_db: None) -> Iterator[Stack]:
    reason = None
    if connection.vendor != "postgresql":
        reason = "the fault suite runs on PostgreSQL (set LAMBENT_TEST_DATABASE_URL)"
    elif os.geteuid() != 0:
        reason = "the fault suite needs root (nftables)"
    if reason is not None:
        if os.environ.get("LAMBENT_TEST_REQUIRE_SANDBOX"):
            pytest.fail(f"the fault suite is required but cannot run: {reason}")
        pytest.skip(reason)
    stack = Stack()
    try:
        yield stack.start()
    finally:
        stack.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not REPORTS:
        return
    terminalreporter.section("asynchronous invocations under faults")
    terminalreporter.write_line(HEADER)
    for report in REPORTS:
        terminalreporter.write_line(report.line())
        for note in report.notes[:10]:
            terminalreporter.write_line(f"    {report.fault}: {note}")
