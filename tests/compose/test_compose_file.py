"""docker-compose.yml, read without running it: valid against the Compose Specification, and holding
what a production install on one host must have. About a second; no engine involved."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.compose.engine import COMPOSE, COMPOSE_FILES, ROOT, offline_environment

COMPOSE_FILE = ROOT / "docker-compose.yml"
SECRETS = ("LAMBENT_SECRET_KEY", "LAMBENT_MASTER_KEY", "LAMBENT_DATABASE_PASSWORD", "LAMBENT_REDIS_PASSWORD")
PLATFORM = ("migrate", "executor", "api", "worker", "beat")


def compose_config(*files: Path, variables: dict[str, str]) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="lambent-compose-config-") as folder:
        return subprocess.run([*COMPOSE, "-p", "lambent", *[part for f in files for part in ("-f", str(f))],
                               "config", "--format", "json"], env={**offline_environment(Path(folder)), **variables},
                              cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    """The file as compose resolves it, every required secret given and nothing else."""
    done = compose_config(COMPOSE_FILE, variables={name: f"value-of-{name}" for name in SECRETS})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_it_validates_against_the_compose_specification() -> None:
    done = subprocess.run([str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema",
                           "vendor.compose-spec", *map(str, COMPOSE_FILES)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_docker_compose_accepts_it_with_podman_s_additions() -> None:
    done = compose_config(*COMPOSE_FILES, variables={name: "x" for name in SECRETS})
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("missing", SECRETS)
def test_each_secret_is_required(missing: str) -> None:
    done = compose_config(COMPOSE_FILE, variables={name: "x" for name in SECRETS if name != missing})
    assert done.returncode != 0
    assert f"required variable {missing} is missing a value" in done.stderr


def test_no_secret_has_a_default() -> None:
    text = COMPOSE_FILE.read_text()
    for name in SECRETS:
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", text)
        assert uses, name
        assert all(use.startswith(":?") for use in uses), (name, uses)


def test_every_service_has_a_shell_healthcheck(config: dict[str, Any]) -> None:
    assert set(config["services"]) == {"postgres", "redis", *PLATFORM}
    for name, service in config["services"].items():
        test = service.get("healthcheck", {}).get("test")
        # podman's Docker API splits a CMD array's arguments on spaces: CMD-SHELL survives it.
        assert test and test[0] == "CMD-SHELL" and len(test) == 2, (name, test)
        assert not service["healthcheck"].get("disable"), name


def test_processes_start_in_order_on_health(config: dict[str, Any]) -> None:
    services = config["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("executor", "api", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
    for name in ("api", "worker"):
        conditions = {dependency: value["condition"] for dependency, value in services[name]["depends_on"].items()}
        assert conditions == {"postgres": "service_healthy", "redis": "service_healthy",
                              "migrate": "service_completed_successfully", "executor": "service_healthy"}, name
    assert services["migrate"]["restart"] == "no"
    assert all(services[name]["restart"] == "unless-stopped" for name in services if name != "migrate")


def test_only_the_api_is_published_and_on_loopback(config: dict[str, Any]) -> None:
    published = {name: service["ports"] for name, service in config["services"].items() if service.get("ports")}
    assert list(published) == ["api"]
    assert [(port["host_ip"], port["published"], port["target"]) for port in published["api"]] == [
        ("127.0.0.1", "8000", 8000)]


def test_redis_keeps_an_append_only_file_synced_every_second(config: dict[str, Any]) -> None:
    command = " ".join(config["services"]["redis"]["command"])
    assert "--appendonly yes" in command and "--appendfsync everysec" in command
    assert "requirepass" in command and "value-of-LAMBENT_REDIS_PASSWORD" not in command


def test_state_lives_in_named_volumes(config: dict[str, Any]) -> None:
    assert set(config["volumes"]) == {"postgres-data", "redis-data", "lambent-data"}

    def volumes(name: str) -> dict[str, str]:
        return {mount["target"]: mount["source"] for mount in config["services"][name].get("volumes", [])
                if mount["type"] == "volume"}

    assert volumes("postgres") == {"/var/lib/postgresql/data": "postgres-data"}
    assert volumes("redis") == {"/data": "redis-data"}
    # The code, the executor's socket and its sandboxes' agent sockets, at the same path in each.
    for name in ("executor", "api", "worker"):
        assert volumes(name) == {"/srv/lambent": "lambent-data"}, name
        environment = config["services"][name]["environment"]
        assert environment["LAMBENT_DATA_DIR"] == "/srv/lambent", name
        assert environment["LAMBENT_EXECUTOR_SOCKET"] == "/srv/lambent/executor.sock", name


def test_the_executor_has_what_its_sandboxes_need_and_no_more(config: dict[str, Any]) -> None:
    executor = config["services"]["executor"]
    assert not executor.get("privileged")
    assert executor["user"] == "0:0"
    assert executor["cap_drop"] == ["ALL"]
    assert set(executor["cap_add"]) == {"SYS_ADMIN", "DAC_OVERRIDE", "SETUID", "SETGID", "SETPCAP", "KILL"}
    assert set(executor["security_opt"]) == {"systempaths=unconfined", "apparmor=unconfined", "no-new-privileges:true"}
    assert executor["cgroup"] == "host"
    def binds(name: str) -> dict[str, tuple[str, bool]]:
        return {mount["target"]: (mount["source"], mount.get("read_only", False))
                for mount in config["services"][name].get("volumes", []) if mount["type"] == "bind"}

    assert binds("executor") == {"/sys/fs/cgroup": ("/sys/fs/cgroup", False)}
    # A lent sandbox's holder reads its memory counters from its cgroup: the host's, read-only.
    assert binds("api") == binds("worker") == {"/sys/fs/cgroup": ("/sys/fs/cgroup", True)}
    assert not any(binds(name) for name in config["services"] if name not in ("executor", "api", "worker"))
    for name in ("migrate", "api", "worker", "beat"):
        service = config["services"][name]
        assert service["cap_drop"] == ["ALL"] and not service.get("cap_add"), name
        assert "no-new-privileges:true" in service["security_opt"], name


def test_platform_containers_write_only_to_their_volumes_and_tmp(config: dict[str, Any]) -> None:
    for name in PLATFORM:
        service = config["services"][name]
        assert service["read_only"] is True and service["tmpfs"] == ["/tmp"], name


def test_it_runs_in_production_mode_against_its_own_database_and_redis(config: dict[str, Any]) -> None:
    for name in PLATFORM:
        environment = config["services"][name]["environment"]
        assert environment["LAMBENT_ENV"] == "production", name
        assert environment["LAMBENT_DATABASE_URL"] == (
            "postgres://lambent:value-of-LAMBENT_DATABASE_PASSWORD@postgres:5432/lambent"), name
        assert environment["LAMBENT_REDIS_URL"] == "redis://:value-of-LAMBENT_REDIS_PASSWORD@redis:6379/0", name
