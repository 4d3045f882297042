"""The ``lambent`` console script, run as an operator runs it: a real process each time.

These runs use their own data directory (SQLite and the embedded Redis), whatever
database the rest of the suite uses, because the command owns its whole environment.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import b64, make_zip
from tests.processes import free_port

LAMBENT = str(Path(sys.executable).parent / "lambent")


@pytest.fixture
def env(tmp_path):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LAMBENT_")}
    clean.pop("DJANGO_SETTINGS_MODULE", None)
    return {**clean, "LAMBENT_DATA_DIR": str(tmp_path / "data")}


def lambent(*args, env, check=True):
    return subprocess.run([LAMBENT, *args], env=env, capture_output=True, text=True, check=check, timeout=120)




def request(port, path, *, key=None, body=None, method=None):
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_tenant_create_json_prints_exactly_the_credentials(env):
    lambent("migrate", "-v0", env=env)
    output = lambent("tenant", "create", "acme", "--json", env=env).stdout
    credentials = json.loads(output)
    assert set(credentials) == {"account_id", "access_key_id", "secret_access_key"}
    assert len(credentials["account_id"]) == 12 and credentials["account_id"].isdigit()
    assert lambent("tenant", "list", env=env).stdout.split() == [credentials["account_id"], "acme"]
    again = lambent("tenant", "create", "acme", "--json", env=env, check=False)
    assert again.returncode != 0
    assert "already exists" in again.stderr


def test_tenant_create_human_output_and_extra_key(env):
    lambent("migrate", "-v0", env=env)
    assert "shown once" in lambent("tenant", "create", "acme", env=env).stdout
    second = json.loads(lambent("tenant", "key", "acme", "--json", env=env).stdout)
    assert second["access_key_id"].startswith("LKIA")
    assert lambent("tenant", "key", "nobody", env=env, check=False).returncode != 0


def wait_for_health(port, process, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "lambent up exited early"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the API did not become healthy")


def test_up_serves_the_platform_and_stops_cleanly_on_ctrl_c(env, tmp_path):
    port = free_port()
    env = {**env, "LAMBENT_BIND": f"127.0.0.1:{port}"}
    process = subprocess.Popen([LAMBENT, "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        wait_for_health(port, process)
        status, created = request(port, "/api/v1/functions", key=None, body={})
        assert status == 401
    finally:
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    key = next(line.split("=", 1)[1] for line in output.splitlines() if "export LAMBENT_KEY=" in line)
    assert not (tmp_path / "data" / "redis.sock").exists()

    # The demo tenant is created once: its credentials work after a restart and are not printed again.
    process = subprocess.Popen([LAMBENT, "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        wait_for_health(port, process)
        body = {"name": "hello", "runtime": "python3.11", "handler": "app.handler", "zip_file": b64(make_zip())}
        status, created = request(port, "/api/v1/functions", key=key, body=body)
        assert status == 201, created
        status, version = request(port, "/api/v1/functions/hello/versions", key=key, body={})
        assert (status, version["version"]) == (201, "1")
    finally:
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "export LAMBENT_KEY=" not in output
    assert "exists" in output


def test_executor_refuses_to_start_without_bubblewrap(env, tmp_path):
    bare_path = tmp_path / "bin"
    bare_path.mkdir()
    result = subprocess.run([LAMBENT, "executor"], env={**env, "PATH": str(bare_path)}, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0
    assert "bubblewrap (bwrap) is not installed" in result.stderr
    assert "LAMBENT_SANDBOX=none" in result.stderr


def test_executor_without_sandbox_warns_loudly(env, tmp_path):
    process = subprocess.Popen([LAMBENT, "executor"], env={**env, "LAMBENT_SANDBOX": "none"}, stderr=subprocess.PIPE,
                               text=True)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "data" / "executor.sock").exists():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert "Tenants are NOT isolated" in stderr


def test_help_lists_lambent_s_commands_and_version_is_lambent_s(env):
    from lambent import __version__

    shown = lambent("--help", env=env).stdout
    assert {"up", "api", "worker", "executor", "beat", "tenant", "quota", "migrate"} <= set(shown.split())
    assert "startproject" not in shown and "runserver" not in shown
    assert "startproject" in lambent("django", "help", env=env).stdout
    assert lambent("--version", env=env).stdout.strip() == f"lambent {__version__}"


def test_a_command_where_no_data_directory_exists_says_where_it_looked_and_creates_nothing(env, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = subprocess.run([LAMBENT, "tenant", "create", "acme"], env={k: v for k, v in env.items()
                         if k != "LAMBENT_DATA_DIR"}, cwd=elsewhere, capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert f"no data directory at {elsewhere / '.lambent'}" in run.stderr and "LAMBENT_DATA_DIR" in run.stderr
    assert list(elsewhere.iterdir()) == []


def test_a_command_before_migrate_says_so_instead_of_a_traceback(env, tmp_path):
    (tmp_path / "data").mkdir()
    run = lambent("tenant", "create", "acme", env=env, check=False)
    assert run.returncode != 0
    assert "lambent migrate" in run.stderr and "Traceback" not in run.stderr


def test_an_executor_whose_sandboxes_are_pods_needs_neither_bubblewrap_nor_root_on_its_host(env, tmp_path):
    bare_path = tmp_path / "bin"
    bare_path.mkdir()
    result = subprocess.run([LAMBENT, "executor"], capture_output=True, text=True, timeout=60, env={
        **env, "PATH": str(bare_path), "LAMBENT_EXECUTOR_BACKEND": "worker.executors.kubernetes.KubernetesExecutor"})
    assert result.returncode == 1  # past the host's checks, stopped by the backend's own, said plainly
    assert "LAMBENT_KUBERNETES_CODE_URL must be set for the Kubernetes backend" in result.stderr
    assert "Traceback" not in result.stderr
    assert "bubblewrap" not in result.stderr and "NOT isolated" not in result.stderr
