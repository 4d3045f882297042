"""GET /api/v1/account: limits and usage as Lambda's GetAccountSettings, with what runs now;
and the concurrency gauges of /metrics."""

from __future__ import annotations

from django.conf import settings

from lambent.functions import limits as function_limits
from lambent.functions.models import CodeArtifact
from tests.conftest import b64, make_zip
from tests.quotas.conftest import reserve
from tests.test_metrics import count


def test_a_new_tenant_has_the_default_limits_and_nothing_used(api):
    assert api.get("/api/v1/account").json() == {
        "account_limit": {"total_code_size": settings.CODE_STORAGE_LIMIT_BYTES,
                          "code_size_unzipped": function_limits.CODE_UNZIPPED_MAX_BYTES,
                          "code_size_zipped": function_limits.CODE_ZIPPED_MAX_BYTES,
                          "concurrent_executions": 1000, "unreserved_concurrent_executions": 1000},
        "account_usage": {"total_code_size": 0, "function_count": 0},
        "concurrent_executions_in_use": 0,
    }


def test_code_storage_counts_each_distinct_package_once(api, create_function):
    shared = b64(make_zip())
    create_function("one", zip_file=shared, publish=True)
    create_function("two", zip_file=shared)
    other = make_zip({"app.py": "def handler(event, context):\n    return 'other'\n"})
    create_function("three", zip_file=b64(other))
    api.post("/api/v1/functions/three/versions", format="json")

    usage = api.get("/api/v1/account").json()["account_usage"]

    sizes = {artifact.sha256: artifact.size for artifact in CodeArtifact.objects.all()}
    assert len(sizes) == 2
    assert usage == {"total_code_size": sum(sizes.values()), "function_count": 3}


def test_code_of_another_tenant_is_not_counted(api, create_function, make_tenant):
    from tests.conftest import client_for

    create_function("hello")
    other = client_for(make_tenant("other"))
    assert other.post("/api/v1/functions", {"name": "same", "runtime": "python3.11", "handler": "app.handler",
                                            "zip_file": b64(make_zip())}, format="json").status_code == 201
    mine = api.get("/api/v1/account").json()["account_usage"]
    assert mine["function_count"] == 1 and mine["total_code_size"] == CodeArtifact.objects.get().size


def test_limits_reservations_and_executions_in_use(api, create_function, hold):
    create_function("reserved")
    create_function("shared")
    reserve(api, "reserved", 300)
    hold("reserved")
    hold("shared")
    hold("shared")

    account = api.get("/api/v1/account").json()

    assert account["account_limit"]["concurrent_executions"] == 1000
    assert account["account_limit"]["unreserved_concurrent_executions"] == 700
    assert account["concurrent_executions_in_use"] == 3


def test_an_expired_lease_is_not_in_use(api, create_function, hold):
    import time

    create_function("hello")
    hold("hello", lease_seconds=0.05)
    time.sleep(0.1)
    assert api.get("/api/v1/account").json()["concurrent_executions_in_use"] == 0


def test_metrics_show_executions_per_reserved_function_and_unreserved_pool(api, tenant, client, create_function,
                                                                           hold):
    create_function("reserved")
    create_function("shared")
    reserve(api, "reserved", 5)
    for name in ("reserved", "reserved", "shared"):
        hold(name)

    text = client.get("/metrics").content.decode()

    account_id = tenant.tenant.account_id
    assert count(text, "lambent_concurrent_executions", tenant=account_id, function="reserved") == 2
    assert count(text, "lambent_unreserved_concurrent_executions", tenant=account_id) == 1


def test_code_over_the_storage_limit_is_refused_and_changes_nothing(api, create_function, settings):
    first = make_zip()
    create_function("one", zip_file=b64(first))
    bigger = make_zip({"app.py": "def handler(event, context):\n    return 2\n", "data.bin": bytes(range(256)) * 16})
    settings.CODE_STORAGE_LIMIT_BYTES = len(first) + len(bigger) - 1

    created = api.post("/api/v1/functions", {"name": "two", "runtime": "python3.11", "handler": "app.handler",
                                             "zip_file": b64(bigger)}, format="json")
    updated = api.put("/api/v1/functions/one/code", {"zip_file": b64(bigger)}, format="json")

    for response in (created, updated):
        assert response.status_code == 400, response.content
        assert response.json()["type"] == "CodeStorageExceededException"
        assert "Code storage limit exceeded" in response.json()["message"]
    assert api.get("/api/v1/functions/two").status_code == 404
    assert api.get("/api/v1/account").json()["account_usage"] == {"total_code_size": len(first), "function_count": 1}
    # Code the tenant already stores costs nothing more.
    create_function("three", zip_file=b64(first))
