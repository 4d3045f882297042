"""Settings from LAMBENT_* variables: defaults, secrets from files, production refusals.

Settings are read once per process, so each case runs Django in a fresh interpreter
with exactly the environment it names.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from lambent.env import env_secret, parse_bind

PRINT_SETTINGS = """
import json, django
django.setup()
from django.conf import settings
db = settings.DATABASES["default"]
print(json.dumps({"engine": db["ENGINE"], "name": str(db["NAME"]), "redis": settings.REDIS_URL,
                  "embedded": settings.EMBEDDED_REDIS, "data_dir": str(settings.DATA_DIR), "bind": settings.BIND,
                  "secret_key": settings.SECRET_KEY, "broker": settings.CELERY_BROKER_URL}))
"""

REAL_SECRET = "k" * 20 + "9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1"


def run_django(env, cwd):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LAMBENT_")}
    clean.update(env, DJANGO_SETTINGS_MODULE="lambent.settings")
    return subprocess.run([sys.executable, "-c", PRINT_SETTINGS], env=clean, cwd=cwd, capture_output=True, text=True)


def settings_in(env, cwd):
    result = run_django(env, cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_defaults_keep_everything_under_dot_lambent(tmp_path):
    found = settings_in({}, tmp_path)
    assert found["data_dir"] == str(tmp_path / ".lambent")
    assert found["engine"] == "django.db.backends.sqlite3"
    assert found["name"] == str(tmp_path / ".lambent" / "lambent.sqlite3")
    assert found["embedded"] is True
    assert found["redis"] == f"unix://{tmp_path}/.lambent/redis.sock"
    assert found["broker"] == f"lambent-redis+socket://{tmp_path}/.lambent/redis.sock"
    assert found["bind"] == "127.0.0.1:8000"
    assert (tmp_path / ".lambent" / "secret_key").stat().st_mode & 0o077 == 0
    assert settings_in({}, tmp_path)["secret_key"] == found["secret_key"]


def test_database_and_redis_urls_switch_backends(tmp_path):
    found = settings_in({"LAMBENT_DATABASE_URL": "postgres://u@db.internal:5432/lambent",
                         "LAMBENT_REDIS_URL": "redis://cache.internal:6379/2",
                         "LAMBENT_DATA_DIR": str(tmp_path / "data"), "LAMBENT_BIND": "0.0.0.0:9000"}, tmp_path)
    assert found["engine"] == "django.db.backends.postgresql"
    assert found["name"] == "lambent"
    assert (found["redis"], found["embedded"]) == ("redis://cache.internal:6379/2", False)
    assert found["data_dir"] == str(tmp_path / "data")
    assert found["bind"] == "0.0.0.0:9000"


def test_secret_from_file(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text(REAL_SECRET + "\n")
    assert settings_in({"LAMBENT_SECRET_KEY_FILE": str(secret_file)}, tmp_path)["secret_key"] == REAL_SECRET


def test_secret_and_secret_file_together_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("LAMBENT_X", "a")
    monkeypatch.setenv("LAMBENT_X_FILE", str(tmp_path / "x"))
    with pytest.raises(ImproperlyConfigured, match="not both"):
        env_secret("LAMBENT_X")


def test_missing_secret_file_is_named(tmp_path):
    result = run_django({"LAMBENT_MASTER_KEY_FILE": str(tmp_path / "absent")}, tmp_path)
    assert result.returncode != 0
    assert "LAMBENT_MASTER_KEY_FILE" in result.stderr


def test_production_refuses_to_start_without_real_settings(tmp_path):
    result = run_django({"LAMBENT_ENV": "production"}, tmp_path)
    assert result.returncode != 0
    for name in ("LAMBENT_SECRET_KEY", "LAMBENT_MASTER_KEY", "LAMBENT_DATABASE_URL", "LAMBENT_REDIS_URL"):
        assert name in result.stderr
    assert not (tmp_path / ".lambent" / "secret_key").exists()


PRODUCTION = {"LAMBENT_ENV": "production", "LAMBENT_SECRET_KEY": REAL_SECRET, "LAMBENT_MASTER_KEY": "m" * 44,
              "LAMBENT_DATABASE_URL": "postgres://u@db:5432/lambent", "LAMBENT_REDIS_URL": "redis://cache:6379/0"}


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"LAMBENT_SECRET_KEY": "short"}, "LAMBENT_SECRET_KEY"),
        ({"LAMBENT_SECRET_KEY": "django-insecure-" + REAL_SECRET}, "LAMBENT_SECRET_KEY"),
        ({"LAMBENT_DATABASE_URL": "sqlite:////tmp/x.db"}, "PostgreSQL"),
        ({"LAMBENT_REDIS_URL": ""}, "LAMBENT_REDIS_URL"),
        ({"LAMBENT_ENV": "staging"}, "LAMBENT_ENV"),
        ({"LAMBENT_REDIS_SOCKET_TIMEOUT": "soon"}, "LAMBENT_REDIS_SOCKET_TIMEOUT"),
    ],
)
def test_production_refuses_weak_or_wrong_settings(tmp_path, override, complaint):
    result = run_django({**PRODUCTION, **override}, tmp_path)
    assert result.returncode != 0
    assert complaint in result.stderr


def test_production_starts_with_real_settings(tmp_path):
    found = settings_in(PRODUCTION, tmp_path)
    assert found["secret_key"] == REAL_SECRET
    assert found["engine"] == "django.db.backends.postgresql"


@pytest.mark.parametrize(("bind", "expected"), [("127.0.0.1:8000", ("127.0.0.1", 8000)),
                                                ("[::1]:9000", ("::1", 9000)), ("0.0.0.0:80", ("0.0.0.0", 80))])
def test_bind_addresses(bind, expected):
    assert parse_bind(bind) == expected


@pytest.mark.parametrize("bind", ["8000", "localhost", ":8000", "host:port"])
def test_bad_bind_addresses_are_refused(bind):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="host:port"):
        parse_bind(bind)


HOST_SETTINGS = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps([settings.CGROUP_PARENT, settings.SANDBOX_UID_BASE, settings.WORKER_METRICS_BIND,
                  settings.EXECUTOR_METRICS_BIND]))
"""


def host_settings(env, cwd):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LAMBENT_")}
    clean.update(env, DJANGO_SETTINGS_MODULE="lambent.settings")
    result = subprocess.run([sys.executable, "-c", HOST_SETTINGS], env=clean, cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_two_installations_on_one_host_get_defaults_that_do_not_collide(tmp_path):
    # Fixed paths, so the derived values are the same on every run (a random pair could share a uid slot).
    one, two = "/tmp/lambent-host-one", "/tmp/lambent-host-two"
    try:
        first = host_settings({"LAMBENT_DATA_DIR": one}, tmp_path)
        second = host_settings({"LAMBENT_DATA_DIR": two, "LAMBENT_BIND": "127.0.0.1:8001"}, tmp_path)
        assert first == host_settings({"LAMBENT_DATA_DIR": one}, tmp_path)  # stable across restarts
    finally:
        for folder in (one, two):
            shutil.rmtree(folder, ignore_errors=True)
    assert first[0] != second[0] and first[0].startswith("lambent-")
    assert abs(first[1] - second[1]) >= 65536  # uid ranges of 65536 that do not overlap
    assert first[2:] == ["127.0.0.1:9101", "127.0.0.1:10101"]  # the API's port 8000, plus 1101 and 2101
    assert len({*first[2:], *second[2:]}) == 4
