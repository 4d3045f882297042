"""The seccomp filters from inside real sandboxes: what they deny, and what real functions still do."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path

import pyseccomp
import pytest

from tests.executors.local import report
from worker.executors.local import seccomp
from worker.executors.local.cgroups import CgroupDriver
from worker.executors.local.sandbox import SandboxSpec, SandboxUnavailable, UidPool, check_seccomp, launch

pytestmark = pytest.mark.sandbox

_NULL, _BAD_FD = 0, -1
CLONE_NEWUSER, SIGCHLD, ADDR_NO_RANDOMIZE, PTRACE_ATTACH = 0x10000000, 17, 0x0040000, 16
#: Each call the issue names, with arguments the kernel alone would refuse otherwise than with EPERM
#: (or allow) for a process without capabilities: a NULL structure, a bad descriptor.
DENIED: dict[str, tuple[int, ...]] = {
    "ptrace": (PTRACE_ATTACH, 1, 0, 0),  # bwrap's init: the kernel alone lets the sandbox's uid attach
    "process_vm_readv": (1, _NULL, 1, _NULL, 1, 0),
    "process_vm_writev": (1, _NULL, 1, _NULL, 1, 0),
    "bpf": (5, _NULL, 0),  # BPF_PROG_LOAD
    "perf_event_open": (_NULL, 0, -1, -1, 0),
    "io_uring_setup": (1, _NULL),
    "io_uring_enter": (_BAD_FD, 0, 0, 0, _NULL, 0),
    "io_uring_register": (_BAD_FD, 0, _NULL, 0),
    "keyctl": (0, -3, 0),  # KEYCTL_GET_KEYRING_ID of the session keyring
    "add_key": (_NULL, _NULL, _NULL, 0, -3),
    "request_key": (_NULL, _NULL, _NULL, -3),
    "unshare": (CLONE_NEWUSER,),
    "setns": (_BAD_FD, 0),
    "clone": (CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0),
    "mount": (_NULL, _NULL, _NULL, 0, _NULL),
    "umount2": (_NULL, 0),
    "pivot_root": (_NULL, _NULL),
    "kexec_load": (0, 0, _NULL, 0),
    "kexec_file_load": (_BAD_FD, _BAD_FD, 0, _NULL, 0),
    "init_module": (_NULL, 0, _NULL),
    "finit_module": (_BAD_FD, _NULL, 0),
    "userfaultfd": (0,),
    "personality": (ADDR_NO_RANDOMIZE,),
    "clone3": (_NULL, 0),  # ENOSYS, so that glibc falls back to clone
}

PROBE = """
import ctypes, errno, json, sys
calls = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(number, args):
    result = libc.syscall(ctypes.c_long(number), *(ctypes.c_long(arg) for arg in args))
    return errno.errorcode[ctypes.get_errno()] if result < 0 else result
print(json.dumps({name: call(number, args) for name, (number, args) in calls.items()}), flush=True)
"""


def _numbers(calls: dict[str, tuple[int, ...]]) -> str:
    native = pyseccomp.Arch.NATIVE
    return json.dumps({name: [pyseccomp.resolve_syscall(native, name), args] for name, args in calls.items()})


@pytest.fixture
def probe(make_spec: Callable[..., SandboxSpec], cgroups: CgroupDriver, state_root: Path,
          uids: UidPool) -> Callable[..., dict[str, object]]:
    """Run the probe in a sandbox (``seccomp=False``: unconfined) and return what each call answered."""
    def run(*, seccomp_on: bool = True) -> dict[str, object]:
        spec = make_spec()
        spec = dataclasses.replace(spec, seccomp=seccomp_on,
                                   command=[spec.command[0], "-I", "-S", "-c", PROBE, _numbers(DENIED)])
        sandbox = launch(spec, cgroups=cgroups, state_root=state_root, uids=uids)
        try:
            return report(sandbox)
        finally:
            sandbox.destroy()

    return run


def test_each_denied_call_fails_with_eperm(probe: Callable[..., dict[str, object]]) -> None:
    seen = probe()
    expected = {name: "EPERM" for name in DENIED} | {"clone3": "ENOSYS"}
    assert seen == expected


def test_without_the_filter_the_kernel_alone_answers_otherwise(probe: Callable[..., dict[str, object]]) -> None:
    """What the filter adds: unconfined, the same calls get through or fail for other reasons."""
    seen = probe(seccomp_on=False)
    assert seen["ptrace"] == 0  # attached to bwrap's init: what the attacker did on main
    assert seen["personality"] != "EPERM" and seen["keyctl"] != "EPERM"
    assert seen["io_uring_setup"] == "EFAULT" and seen["setns"] == "EBADF" and seen["clone3"] != "ENOSYS"


def test_the_programs_are_built_once_and_handed_over_per_launch() -> None:
    assert seccomp.allow_list_program() is seccomp.allow_list_program()
    first, second = seccomp.program_fds(), seccomp.program_fds()
    try:
        assert first != second  # descriptors of their own: bwrap reads each to its end
        for fd, program in zip(first, (seccomp.allow_list_program(), seccomp.guard_program()), strict=True):
            with open(fd, "rb", closefd=False) as file:
                assert file.read() == program
        assert len(seccomp.allow_list_program()) % 8 == 0  # whole struct sock_filter entries
    finally:
        for fd in first + second:
            os.close(fd)


def test_a_bwrap_that_cannot_load_filters_is_refused(tmp_path: Path) -> None:
    old = tmp_path / "bwrap"
    old.write_text("#!/bin/sh\necho 'usage: bwrap'\necho '    --seccomp FD    Load and use seccomp rules from FD'\n")
    old.chmod(0o755)
    check_seccomp()  # this host's bwrap can
    with pytest.raises(SandboxUnavailable, match=r"--add-seccomp-fd needs bubblewrap 0\.5\+"):
        check_seccomp(str(old))
