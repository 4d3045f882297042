"""A function that goes for its sandbox's agent, as an attacker would: every way in is shut."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pyseccomp
import pytest

from tests.conftest import make_zip
from tests.executors.local import ATTEMPT, run_with_executor
from worker.executors import FunctionSpec, InvokeRequest
from worker.executors.local import LocalExecutor

pytestmark = pytest.mark.sandbox

ATTACK = ATTEMPT + r'''
import ctypes, errno, os, resource, signal, socket, stat

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
AGENT = 2
NUMBERS = {}  # system call numbers of this architecture, sent by the test


def raw(name, *args):
    def call():
        if libc.syscall(ctypes.c_long(NUMBERS[name]), *(ctypes.c_long(arg) for arg in args)) < 0:
            number = ctypes.get_errno()
            raise OSError(number, os.strerror(number))
    return call


def read(path, mode="r"):
    return lambda: open(path, mode).read()


def set_owner():
    with socket.socket() as sock:
        import fcntl
        fcntl.fcntl(sock, fcntl.F_SETOWN, AGENT)


def signal_through(opener):
    def send():
        fd = opener()
        try:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
        finally:
            os.close(fd)
    return send


def sockets():
    found = []
    for top in ("/tmp", "/var", "/dev", "/"):
        for root, folders, files in os.walk(top):
            folders[:] = [f for f in folders if os.path.join(root, f) not in ("/proc", "/sys", "/usr")]
            found += [os.path.join(root, f) for f in files if stat.S_ISSOCK(os.lstat(os.path.join(root, f)).st_mode)]
    return found


def handler(event, context):
    attempts = {
        "agent": lambda: open(f"/proc/{AGENT}/cmdline").read().split("\0")[3],
        "self": lambda: os.getpid(),
        "dumpable": lambda: os.stat(f"/proc/{os.getpid()}/environ").st_uid == os.getuid(),  # the runtime is
        "ptrace": lambda: attempt(raw("ptrace", 16, AGENT, 0, 0)),  # PTRACE_ATTACH
        "process_vm_readv": lambda: attempt(raw("process_vm_readv", AGENT, 0, 0, 0, 0, 0)),
        "kill": lambda: attempt(lambda: os.kill(AGENT, 0)),
        "stop": lambda: attempt(lambda: os.kill(AGENT, signal.SIGSTOP)),
        "kill_group": lambda: attempt(lambda: os.killpg(AGENT, signal.SIGKILL)),
        "kill_all": lambda: attempt(lambda: os.kill(-1, signal.SIGKILL)),
        "tgkill": lambda: attempt(raw("tgkill", AGENT, AGENT, signal.SIGKILL)),
        "sigqueue": lambda: attempt(raw("rt_sigqueueinfo", AGENT, signal.SIGKILL, 0)),
        "pidfd": lambda: attempt(signal_through(lambda: os.pidfd_open(AGENT))),
        "proc_dir": lambda: attempt(signal_through(lambda: os.open(f"/proc/{AGENT}", os.O_RDONLY | os.O_DIRECTORY))),
        "join_group": lambda: attempt(lambda: os.setpgid(0, AGENT)),
        "prlimit": lambda: attempt(lambda: resource.prlimit(AGENT, resource.RLIMIT_NOFILE, (0, 0))),
        "io_owner": lambda: attempt(set_owner),
        "mem": lambda: attempt(read(f"/proc/{AGENT}/mem", "rb")),
        "environ": lambda: attempt(read(f"/proc/{AGENT}/environ")),
        "fds": lambda: attempt(lambda: os.listdir(f"/proc/{AGENT}/fd")),
        "oom_score": lambda: attempt(lambda: open(f"/proc/{AGENT}/oom_score_adj", "w").write("1000")),
    }
    NUMBERS.update(event["numbers"])
    only = event.get("only") or list(attempts)
    return {name: attempts[name]() for name in only} | {"sockets": sockets()}
'''
CODE = make_zip({"app.py": ATTACK})


def spec() -> FunctionSpec:
    return FunctionSpec(account_id="123456789012", function_name="attacker", version="$LATEST", function_arn="arn",
                        runtime="python3.11", handler="app.handler", memory_size=192, timeout=20,
                        ephemeral_storage=512, code_sha256=hashlib.sha256(CODE).hexdigest(), fingerprint="attacker")


def request(*only: str) -> InvokeRequest:
    numbers = {name: pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name)
               for name in ("ptrace", "tgkill", "rt_sigqueueinfo", "process_vm_readv")}
    return InvokeRequest(request_id=str(uuid.uuid4()), payload=json.dumps({"only": only, "numbers": numbers}).encode(),
                         invoked_function_arn="arn")


def attack(*only: str, **options: object) -> tuple[dict[str, object], dict[str, object]]:
    """Two invocations of the attacker (trying ``only`` those attempts, or all) in one sandbox: what the
    first saw, and the second (which needs the agent alive)."""
    seen: list[dict[str, object]] = []

    async def scenario(executor: LocalExecutor) -> None:
        for _ in range(2):
            seen.append(json.loads((await executor.invoke(spec(), request(*only))).payload))

    run_with_executor(scenario, code=CODE, keep_alive_s=60, generic_pool_size=0, **options)
    return seen[0], seen[1]


def test_the_function_cannot_touch_the_agent() -> None:
    first, second = attack()
    assert first["agent"].endswith("agent/__main__.py") and first["self"] != 2  # type: ignore[union-attr]
    assert first["dumpable"] is True  # the runtime the agent forked is an ordinary process again
    denied = ("ptrace", "process_vm_readv", "kill", "stop", "kill_group", "kill_all", "tgkill", "sigqueue", "pidfd",
              "proc_dir", "join_group", "prlimit", "io_owner")
    assert {name: first[name] for name in denied} == {name: "EPERM" for name in denied}
    unreadable = ("mem", "environ", "fds", "oom_score")  # the agent is not dumpable: its /proc files are root's
    assert {name: first[name] for name in unreadable} == {name: "EACCES" for name in unreadable}
    assert first["sockets"] == []  # the agent's socket lives on the host, out of sight
    assert second == first  # and the agent, untouched, served the next invocation


def test_unconfined_only_the_agent_s_own_protection_holds() -> None:
    """Without the seccomp filters (LAMBENT_SECCOMP=unconfined) a signal gets through (only the harmless
    one is sent here): the guard is what stops them. Not being dumpable still keeps the agent's memory
    and files shut, ptrace included."""
    first, _ = attack("kill", "ptrace", "mem", "environ", seccomp=False)
    assert first == {"kill": "ok", "ptrace": "EPERM", "mem": "EACCES", "environ": "EACCES", "sockets": []}


def test_the_agent_socket_is_the_executor_s_alone() -> None:
    async def scenario(executor: LocalExecutor) -> None:
        await executor.invoke(spec(), request())
        sockets = list(Path(executor._node.state_dir, "agents").iterdir())
        assert len(sockets) == 1
        assert sockets[0].parent.stat().st_mode & 0o777 == 0o700
        await executor.evict(spec())
        assert list(Path(executor._node.state_dir, "agents").iterdir()) == []  # removed with its sandbox

    run_with_executor(scenario, code=CODE, keep_alive_s=60, generic_pool_size=0)
