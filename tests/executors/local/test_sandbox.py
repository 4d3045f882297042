"""Real sandboxes on this host: bubblewrap, cgroups, an unprivileged uid, and what they keep out."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import json
import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.executors.local import ATTEMPT, REPO, Start, report, running
from worker.executors.local.cgroups import CgroupDriver
from worker.executors.local.interpreters import Interpreter, find_interpreters
from worker.executors.local.sandbox import (
    ENVIRONMENT,
    SETPRIV,
    SandboxError,
    SandboxSpec,
    UidPool,
    bwrap_argv,
    bwrap_available,
    launch,
    launch_async,
    reap_orphans,
    remove_tree,
)

pytestmark = pytest.mark.sandbox  # skipped only where sandboxes cannot run; required in CI
MARKER = "LAMBENT_TEST_HOST_MARKER"
CGROUP_ROOT = Path("/sys/fs/cgroup")


def mounts() -> str:
    return Path("/proc/mounts").read_text()


PROBE = """
import json, os, socket, time

def attempt(action):
    try:
        return repr(action())[:100]
    except OSError as error:
        return type(error).__name__

status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)
print(json.dumps({
    "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "cwd": os.getcwd(),
    "environ": dict(os.environ), "init_environ": open("/proc/1/environ", "rb").read().decode(),
    "shadow": attempt(lambda: open("/etc/shadow").read()),
    "settings": attempt(lambda: open("/work/main/platform/lambent/settings.py").read()),
    "repo": attempt(lambda: os.listdir("/work/main")), "root": sorted(os.listdir("/")),
    "hostname": socket.gethostname(), "processes": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "caps": [status[key] for key in ("CapEff", "CapPrm", "CapBnd", "CapAmb")],
    "no_new_privs": status["NoNewPrivs"], "userns": attempt(lambda: os.unshare(os.CLONE_NEWUSER)),
    "seccomp": [status["Seccomp"], status["Seccomp_filters"]],
}), flush=True)
time.sleep(60)
"""


def test_identity_files_and_environment_are_the_sandbox_s_own(start: Start, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MARKER, "host-secret-4711")
    sandbox = start(PROBE)
    seen = report(sandbox)
    assert (seen["uid"], seen["gid"], seen["groups"]) == (1000, 1000, [])
    assert seen["cwd"] == "/var/task" and seen["hostname"] == "sandbox"
    assert seen["shadow"] == seen["settings"] == seen["repo"] == "FileNotFoundError"
    assert seen["root"] == ["bin", "dev", "lib", "lib64", "proc", "root", "sbin", "tmp", "usr", "var"]
    assert "host-secret-4711" not in json.dumps(seen)
    assert set(seen["environ"]) <= {"PWD", "LC_CTYPE"}  # bwrap sets PWD, Python's C locale coercion LC_CTYPE
    launcher_environ = [f"{key}={value}" for key, value in ENVIRONMENT.items()] + ["PWD=/"]  # sh exports PWD
    assert sorted(seen["init_environ"].split("\0")[:-1]) == sorted(launcher_environ)
    assert seen["caps"] == ["0000000000000000"] * 4 and seen["no_new_privs"] == "1"
    assert seen["userns"] == "PermissionError"  # the seccomp filter (--disable-userns would refuse it too)
    assert seen["seccomp"] == ["2", "2"]  # filtered (mode 2), by the allow-list and the agent's guard
    assert seen["processes"] == [1, 2]  # bwrap's init and the script: a pid namespace of its own
    host_pids = sandbox.host_pids()
    assert len(host_pids) == 3  # bwrap, its init and the script
    for pid in host_pids:
        status = Path(f"/proc/{pid}/status").read_text()
        uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
        assert uid_line.split()[1:] == [str(sandbox.spec.uid)] * 4
        assert b"host-secret-4711" not in Path(f"/proc/{pid}/environ").read_bytes()


def test_id_inside(start: Start) -> None:
    sandbox = start(command=["/usr/bin/id"])
    assert sandbox.communicate(10) == b"uid=1000 gid=1000 groups=1000\n"


def test_the_host_loopback_is_out_of_reach(start: Start) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        sandbox = start(f"""
import json, socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2)
    outcome = "connected"
except OSError as error:
    outcome = type(error).__name__
print(json.dumps({{"outcome": outcome, "interfaces": [name for _, name in socket.if_nameindex()]}}))
""")
        seen = report(sandbox)
        assert seen == {"outcome": "ConnectionRefusedError", "interfaces": ["lo"]}
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()


def test_code_is_read_only_and_tmp_is_size_limited(start: Start) -> None:
    sandbox = start("""
import errno, json, os
def attempt(action):
    try:
        return action()
    except OSError as error:
        return errno.errorcode[error.errno]
def fill():
    written = 0
    with open("/tmp/fill", "wb", buffering=0) as big:
        while True:
            written += big.write(b"x" * 65536)
print(json.dumps({
    "task": attempt(lambda: open("/var/task/new.py", "w")), "usr": attempt(lambda: open("/usr/x", "w")),
    "runtime": attempt(lambda: open("/var/runtime/x", "w")),
    "root": attempt(lambda: open("/new-file", "w")), "dir": attempt(lambda: os.mkdir("/new-dir")),
    "tmp": attempt(lambda: open("/tmp/small", "w").write("ok")),
    "fill": attempt(fill), "filled": os.path.getsize("/tmp/fill"),
}))
""", tmp_mb=4)
    seen = report(sandbox)
    assert seen["task"] == seen["usr"] == seen["runtime"] == seen["root"] == seen["dir"] == "EROFS"
    assert seen["tmp"] == 2
    assert seen["fill"] == "ENOSPC" and 3 << 20 < seen["filled"] <= 4 << 20
    assert sandbox.wait(10) == 0


def test_going_over_memory_is_an_oom_kill(start: Start) -> None:
    sandbox = start("""
print("allocating", flush=True)
hoard = [b"x" * (1 << 20) for _ in range(512)]
print("survived", flush=True)
""", memory_mb=64)
    assert sandbox.oom_kills() == 0
    assert sandbox.communicate(30) == b"allocating\n"
    assert sandbox.returncode == 128 + 9
    assert sandbox.oom_kills() == 1
    assert 32 < (sandbox.peak_memory_mb() or 0) <= 64


def test_a_fork_bomb_stops_at_pids_max(start: Start) -> None:
    sandbox = start("""
import json, os, time
forks, failure = 0, None
while forks < 10000:
    try:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
    except OSError as error:
        failure = error.errno
        break
    forks += 1
print(json.dumps({"forks": forks, "errno": failure}), flush=True)
time.sleep(60)
""", pids_max=24)
    seen = report(sandbox)
    assert seen["errno"] == errno.EAGAIN and 0 < seen["forks"] <= 24
    assert len(sandbox.host_pids()) <= 24
    assert subprocess.run(["/bin/true"]).returncode == 0  # the host still forks


DAEMON = """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        null = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        time.sleep(600)
    os._exit(0)
os.wait()
print('{"daemonized": true}', flush=True)
time.sleep(600)
"""


def test_destroy_leaves_nothing_behind(start: Start, uids: UidPool, state_root: Path) -> None:
    sandbox = start(DAEMON)
    assert report(sandbox) == {"daemonized": True}
    members = sandbox.host_pids()
    assert len(members) == 4  # bwrap, its init, the script and the daemon
    staging = state_root / sandbox.id
    assert str(staging) in mounts() and uids.in_use() == 1
    assert sandbox.cgroup is not None
    directories = sandbox.cgroup.directories
    sandbox.destroy()
    assert not any(running(pid) for pid in members)
    assert not any(directory.exists() for directory in directories)
    assert str(state_root) not in mounts() and not staging.exists()
    assert uids.in_use() == 0
    sandbox.destroy()  # idempotent


def test_a_live_sandbox_s_host_directories_cannot_be_deleted_through_its_staging(
        start: Start, state_root: Path) -> None:
    sandbox = start("import time; print('{}', flush=True); time.sleep(30)")
    assert report(sandbox) == {}
    staging = state_root / sandbox.id
    with pytest.raises(SandboxError, match="still mounted"):
        remove_tree(state_root)
    shutil.rmtree(staging, ignore_errors=True)  # what a careless cleanup would do
    assert (REPO / "runtimes" / "agent" / "protocol.py").exists()
    assert (sandbox.spec.code_dir / "main.py").exists()
    with pytest.raises(OSError) as raised:
        (staging / "runtime" / "planted").write_text("x")
    assert raised.value.errno in (errno.EROFS, errno.EACCES)


def test_bwrap_errors_are_kept(start: Start) -> None:
    sandbox = start(command=["/nonexistent"])
    assert sandbox.wait(10) == 1
    assert b"bwrap: execvp /nonexistent: No such file or directory" in sandbox.stderr


def test_reap_orphans_takes_what_a_previous_executor_left(start: Start, cgroups: CgroupDriver,
                                                           state_root: Path) -> None:
    alive = start("import time\nprint('{}', flush=True)\ntime.sleep(60)")
    report(alive)
    left = [CGROUP_ROOT / name / cgroups.parent / "previous" for name in ("pids", "memory", "cpu", "freezer")]
    for directory in left:
        directory.mkdir()
    join = 'while [ "$1" != -- ]; do echo $$ > "$1"; shift; done; shift; exec "$@"'
    sleeper = subprocess.Popen(["/bin/sh", "-c", join, "join", *(str(d / "cgroup.procs") for d in left), "--",
                                "sleep", "300"])
    (state_root / "previous").mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "lambent-sandbox", state_root / "previous"], check=True)
    (state_root / "previous" / "tmp").mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "lambent-tmp", state_root / "previous" / "tmp"],
                   check=True)
    while not (left[0] / "cgroup.procs").read_text().split():
        assert sleeper.poll() is None

    assert reap_orphans(cgroups=cgroups, state_root=state_root) == ["previous"]
    assert sleeper.wait(5) == -9
    assert not any(directory.exists() for directory in left)
    assert str(state_root / "previous") not in mounts() and not (state_root / "previous").exists()
    assert alive.returncode is None and len(alive.host_pids()) == 3
    assert str(state_root / alive.id) in mounts()


def test_launch_async(make_spec: Callable[..., SandboxSpec], cgroups: CgroupDriver, state_root: Path,
                      uids: UidPool) -> None:
    async def scenario() -> tuple[bytes, int, bytes]:
        spec = make_spec("import sys\nprint('hello')\nprint('to stderr', file=sys.stderr)")
        sandbox = await launch_async(spec, cgroups=cgroups, state_root=state_root, uids=uids)
        try:
            line = await sandbox.stdout.readline()
            status = await sandbox.wait()
        finally:
            await sandbox.destroy()
        return line, status, sandbox.stderr

    assert asyncio.run(scenario()) == (b"hello\n", 0, b"to stderr\n")
    assert uids.in_use() == 0 and list(state_root.iterdir()) == []


WAIT_FOR_CODE = """
import os, sys, time
print("generic", sorted(os.listdir("/var/task")), flush=True)
while not os.path.exists("/var/task/app.py"):
    time.sleep(0.01)
print(open("/var/task/app.py").read().strip(), flush=True)
try:
    open("/var/task/planted", "w")
except OSError as error:
    print(type(error).__name__, flush=True)
chunks = []
try:
    while True:
        chunks.append(bytearray(8 * 1024 * 1024))
except MemoryError:
    pass
"""


def test_a_generic_sandbox_is_specialized_with_code_and_limits(make_spec: Callable[..., SandboxSpec],
                                                               cgroups: CgroupDriver, state_root: Path,
                                                               uids: UidPool, python: Interpreter,
                                                               tmp_path: Path) -> None:
    code = tmp_path / "function-code"
    code.mkdir()
    (code / "app.py").write_text("specialized code")
    code.chmod(0o755)
    runner = tmp_path / "runner"
    runner.mkdir()
    (runner / "wait.py").write_text(WAIT_FOR_CODE)
    runner.chmod(0o755)
    generic = make_spec(command=[str(python.executable), "-I", "-S", "/var/runtime/wait.py"], memory_mb=256)
    generic = dataclasses.replace(generic, code_dir=None, runtime_dir=runner)
    sandbox = launch(generic, cgroups=cgroups, state_root=state_root, uids=uids)
    try:
        assert sandbox.stdout.readline() == b"generic []\n"
        sandbox.specialize(code, memory_mb=64, tmp_mb=16)
        assert sandbox.stdout.readline() == b"specialized code\n"
        assert sandbox.stdout.readline() in (b"OSError\n", b"PermissionError\n")
        assert sandbox.wait(30) == 137  # over the new 64 MB limit: OOM-killed
        assert sandbox.oom_kills() >= 1
    finally:
        sandbox.destroy()
    assert (code / "app.py").read_text() == "specialized code"


def test_unsandboxed_mode_runs_on_the_host_with_a_cleared_environment(make_spec: Callable[..., SandboxSpec],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MARKER, "host-secret-4711")
    script = "import json, os, sys\nprint(json.dumps([os.getcwd(), dict(os.environ), sys.argv[1:], os.getuid()]))"
    spec = make_spec(script)
    spec = SandboxSpec(**{**vars(spec), "command": [*spec.command, "/var/runtime/agent", "/tmp/x"]})
    sandbox = launch(spec, cgroups=None, isolation=False)
    cwd, environ, argv, uid = json.loads(sandbox.communicate(10))
    sandbox.destroy()
    assert cwd == str(spec.code_dir) and uid == os.getuid()
    assert {key: environ[key] for key in ENVIRONMENT} == ENVIRONMENT and MARKER not in environ
    assert argv == [str(REPO / "runtimes" / "agent"), "/tmp/x"]
    assert sandbox.peak_memory_mb() is None and sandbox.host_pids() == []


def test_without_root_sandboxes_are_refused(python: Interpreter) -> None:
    """As ``nobody``, with Debian's Python 3.11 (the venv's lives under /root, closed to others)."""
    system = find_interpreters().get("python3.11")
    if system is None or not system.executable.is_relative_to("/usr"):
        pytest.skip("needs a python3.11 under /usr")
    program = f"""
import sys
sys.path[:0] = [{str(REPO)!r}, {str(REPO / 'platform')!r}, {str(REPO / '.venv/lib/python3.11/site-packages')!r}]
from pathlib import Path
from worker.executors.local import cgroups, sandbox
try:
    cgroups.detect()
except cgroups.CgroupUnavailable as error:
    print(error)
spec = sandbox.SandboxSpec(sandbox_id="x", interpreter=None, command=["/usr/bin/true"], code_dir=Path("/"),
                           runtime_dir=Path("/"), tmp_mb=1, memory_mb=64, pids_max=8,
                           uid=200000, gid=200000)
try:
    sandbox.launch(spec, cgroups=None)
except sandbox.SandboxUnavailable as error:
    print(error)
"""
    result = subprocess.run([SETPRIV, "--reuid=65534", "--regid=65534", "--clear-groups", "--",
                             str(system.executable), "-I", "-c", program], capture_output=True, text=True, cwd="/")
    assert result.stderr == ""
    refused_cgroups, refused_sandbox = result.stdout.splitlines()
    assert "is not writable by uid 65534: the local executor must run as root" in refused_cgroups
    assert refused_sandbox.startswith("sandboxes need the executor to run as root (it runs as uid 65534)")
    assert "LAMBENT_SANDBOX=none" in refused_sandbox


def test_the_bwrap_command_line(make_spec: Callable[..., SandboxSpec], python: Interpreter) -> None:
    spec = make_spec(extra_ro_binds=[(Path("/srv/layer"), "/opt")])
    staging = Path("/run/lambent-sandboxes") / spec.sandbox_id
    argv = bwrap_argv(spec, staging=staging, seccomp_fds=[7, 8])
    assert argv[:8] == ["/usr/bin/bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
                        "--new-session", "--hostname", "sandbox"]
    assert "--setenv" not in argv and "--clearenv" in argv
    joined = " ".join(argv)
    for mount in (f"--ro-bind {staging}/ro0 {python.prefix}", f"--ro-bind {staging}/task /var/task",
                  f"--ro-bind {staging}/runtime /var/runtime", f"--ro-bind {staging}/ro1 /opt",
                  f"--bind {staging}/scratch/tmp /tmp", f"--bind {staging}/scratch/shm /dev/shm",
                  "--dev-bind /dev/null /dev/null", "--remount-ro /dev", "--add-seccomp-fd 7 --add-seccomp-fd 8",
                  "--ro-bind /usr /usr"):
        assert mount in joined
    assert "/etc" not in joined and " /run/lambent " not in joined and "--dev " not in joined
    assert argv[-5:] == ["--", str(python.executable), "-I", "-S", "/var/task/main.py"]


def test_bwrap_is_available() -> None:
    available, reason = bwrap_available()
    assert available and reason.startswith("bubblewrap ")
    assert bwrap_available("/nonexistent/bwrap") == (False, "/nonexistent/bwrap is missing "
                                                            "(apt-get install bubblewrap util-linux)")


def test_uid_pool_hands_out_distinct_uids_and_takes_them_back() -> None:
    pool = UidPool(base=300000, size=3)
    taken = [pool.acquire() for _ in range(3)]
    assert taken == [300000, 300001, 300002] and pool.in_use() == 3
    with pytest.raises(SandboxError, match="all 3 sandbox uids"):
        pool.acquire()
    pool.release(300001)
    assert pool.acquire() == 300001
    pool.release(300000)
    pool.release(300002)
    assert pool.acquire() == 300002  # the least recently handed out first


def test_specs_are_validated(make_spec: Callable[..., SandboxSpec]) -> None:
    spec = make_spec()
    for field, value in (("uid", 0), ("gid", 0), ("sandbox_id", "../x"), ("command", []), ("tmp_mb", 0)):
        with pytest.raises(ValueError):
            SandboxSpec(**{**vars(spec), field: value})


def test_dev_holds_only_the_devices_and_only_shm_is_writable(start: Start) -> None:
    sandbox = start(ATTEMPT + """
import json, os
def fill(path):
    with open(path, "wb", buffering=0) as big:
        while True:
            big.write(b"x" * 65536)
print(json.dumps({
    "dev": sorted(os.listdir("/dev")), "links": {name: os.readlink(f"/dev/{name}") for name in ("fd", "stdout")},
    "new": attempt(lambda: open("/dev/planted", "w")), "dir": attempt(lambda: os.mkdir("/dev/pts")),
    "null": attempt(lambda: open("/dev/null", "w").write("gone")),
    "urandom": len(open("/dev/urandom", "rb").read(16)),
    "full": attempt(lambda: open("/dev/full", "wb", buffering=0).write(b"x")),
    "tty": attempt(lambda: open("/dev/tty")),
    "tmp": attempt(lambda: fill("/tmp/half")), "shm": attempt(lambda: fill("/dev/shm/rest")),
    "sizes": os.path.getsize("/tmp/half") + os.path.getsize("/dev/shm/rest"),
}))
""", tmp_mb=4)
    seen = report(sandbox)
    assert seen["dev"] == ["fd", "full", "null", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"]
    assert seen["links"] == {"fd": "/proc/self/fd", "stdout": "/proc/self/fd/1"}
    assert seen["new"] == seen["dir"] == "EROFS"
    assert seen["null"] == "ok" and seen["urandom"] == 16 and seen["full"] == "ENOSPC"
    assert seen["tty"] == "ENXIO"  # no controlling terminal
    assert seen["tmp"] == seen["shm"] == "ENOSPC" and 3 << 20 < seen["sizes"] <= 4 << 20  # one tmpfs, one size
