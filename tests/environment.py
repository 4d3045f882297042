"""A pytest plugin loaded before Django (``-p tests.environment``): the test settings.

Tests run on the same ``lambent.settings`` as the platform, with a fresh data directory
and the database and Redis of ``LAMBENT_TEST_DATABASE_URL`` / ``LAMBENT_TEST_REDIS_URL``
when set (CI points them at PostgreSQL and a real Redis); unset, SQLite and an embedded
Redis, as ``make dev`` runs. Variables of the developer's own shell never leak in.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

DATA_DIR = Path(tempfile.mkdtemp(prefix="lambent-test-"))
DATA_DIR.chmod(0o711)  # sandboxes run as other uids and must traverse it

for _name in [name for name in os.environ if name.startswith("LAMBENT_") and not name.startswith("LAMBENT_TEST_")]:
    del os.environ[_name]
os.environ["LAMBENT_DATA_DIR"] = str(DATA_DIR)
# Sandboxes of this session under a cgroup of its own: an executor reaps what it finds under its
# parent, so a session must never share one with `make dev` or another session.
os.environ["LAMBENT_CGROUP_PARENT"] = f"lambent-test-{os.getpid()}"
# ... and uids of its own, apart from `make dev`'s (200000 on) and, but by chance, another session's.
os.environ["LAMBENT_SANDBOX_UID_BASE"] = str(1_000_000 + os.getpid() % 2048 * 65536)
# Webhook receivers of the tests listen on loopback, which webhooks may not reach by default.
os.environ["LAMBENT_WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.0/8,::1/128"
# The session executor's metrics on a port of its own, not the one `make dev` uses.
with socket.socket() as _probe:
    _probe.bind(("127.0.0.1", 0))
    os.environ["LAMBENT_EXECUTOR_METRICS_BIND"] = f"127.0.0.1:{_probe.getsockname()[1]}"
for _test_name, _name in (("LAMBENT_TEST_DATABASE_URL", "LAMBENT_DATABASE_URL"),
                          ("LAMBENT_TEST_REDIS_URL", "LAMBENT_REDIS_URL")):
    if os.environ.get(_test_name):
        os.environ[_name] = os.environ[_test_name]

_services = contextlib.ExitStack()


def sandbox_unavailable() -> str | None:
    """Why real sandboxes cannot run on this machine, or None when they can."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    if os.geteuid() != 0:
        return "sandboxes need root (cgroups, tmpfs mounts, unprivileged sandbox uids)"
    if not os.access("/sys/fs/cgroup", os.W_OK) and not os.access("/sys/fs/cgroup/memory", os.W_OK):
        return "cgroups are not writable"
    return None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sandbox: runs real sandboxes (bubblewrap, cgroups, root)")
    config.addinivalue_line("markers", "faults: breaks parts of a running platform under load (tests/faults)")
    config.addinivalue_line("markers", "k8s: runs against the real Kubernetes test bed (tests/k8s, root on Debian)")
    config.addinivalue_line("markers", "containers: builds or runs container images (podman or buildah, root)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Sandbox tests are skipped only where they cannot run; LAMBENT_TEST_REQUIRE_SANDBOX=1 (set by
    .ci/run) turns that skip into a failure, so CI never passes without running them."""
    reason = sandbox_unavailable()
    if reason is None or not any(item.get_closest_marker("sandbox") for item in items):
        return
    if os.environ.get("LAMBENT_TEST_REQUIRE_SANDBOX"):
        raise pytest.UsageError(f"sandbox tests are required but cannot run: {reason}")
    for item in items:
        if item.get_closest_marker("sandbox"):
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_sessionstart(session: pytest.Session) -> None:
    from django.conf import settings
    from django.db import connections

    from lambent.embedded_redis import embedded_redis

    if settings.EMBEDDED_REDIS:
        _services.enter_context(embedded_redis(settings.EMBEDDED_REDIS_SOCKET))
    database = connections["default"].settings_dict
    if database["ENGINE"].endswith("sqlite3"):
        # The test database is the file the platform's own processes (workers, the api) open
        # in the data directory, so tests can run them against it.
        database["TEST"]["NAME"] = database["NAME"]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from worker.executors.local.sandbox import remove_tree

    _services.close()
    remove_tree(DATA_DIR)  # refuses to delete through a mount a sandbox left behind


def pytest_report_header(config: pytest.Config) -> list[str]:
    from django.conf import settings

    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    redis = "embedded" if settings.EMBEDDED_REDIS else settings.REDIS_URL
    return [f"lambent: database {database}, redis {redis}, data dir {DATA_DIR}"]
