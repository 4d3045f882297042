"""The seccomp filters every sandbox runs under: an allow-list of system calls, and the agent's guard.

Two BPF programs, built with libseccomp (Debian's ``libseccomp2``, through the ``pyseccomp`` ctypes
binding, whose API is that of libseccomp's own Python binding) once per executor process and handed
to bwrap with ``--add-seccomp-fd`` on each launch. bwrap loads them just before it execs the
sandbox's command, so they bind the agent and everything it starts from their first instruction;
a filter, once loaded, is inherited across fork and exec and can never be removed. libseccomp
rather than a hand-written program: it knows every architecture's system call numbers, and it
emits the architecture check and the x32 check on x86_64 that a hand-written filter gets wrong.
Rather than a precompiled program checked in: it resolves the names for the architecture it runs
on, so nothing needs regenerating when the host changes.

**The allow-list** (``ALLOWED``), in the spirit of Docker's default profile (minus what it allows
that a function needs least and the kernel has most often got wrong: ``io_uring_*``, ``ptrace``,
``process_vm_readv``/``process_vm_writev``, ``pidfd_send_signal``, ``modify_ldt``) and of gVisor,
which implements no more than this. A call outside it fails with ``EPERM``, the process lives on.
Among what stays out: ``bpf``, ``perf_event_open``, ``keyctl``/``add_key``/``request_key``,
``unshare``/``setns``, ``mount``/``umount2``/``pivot_root`` and the new mount API, ``kexec_*``,
``init_module``/``finit_module``, ``userfaultfd``, ``quotactl``, ``syslog``, ``chroot``, the clock
setters. Some calls are allowed for some arguments only:

- ``clone`` without any ``CLONE_NEW*`` flag (threads, fork, ``posix_spawn``); ``clone3``, whose flags
  sit in memory a filter cannot read, fails with ``ENOSYS`` instead, so that glibc falls back to
  ``clone`` (as Docker does).
- ``personality`` only to query it or to set the personalities Docker allows (``PER_LINUX``,
  ``PER_LINUX32``, ``UNAME26``): never ``ADDR_NO_RANDOMIZE`` or another flag that weakens ASLR.
- ``socket`` of any family but ``AF_VSOCK`` (what the sandbox's own network namespace bounds).

**The agent's guard** (``guard_program``): the sandbox's processes share one uid (bwrap maps a single
one), so only a filter can keep them from acting on the agent, which is always pid ``AGENT_PID`` in
the sandbox's pid namespace (bwrap's init is 1, its command 2; the agent says so in its ``ready``
frame and the executor checks it). These fail with ``EPERM``: ``kill`` of the agent, of its process
group or of every process (-1); ``tkill``, ``tgkill``, ``rt_sigqueueinfo`` and
``rt_tgsigqueueinfo`` aimed at it; ``setpgid`` into its process group (from which ``kill(0, ...)``
would reach it); ``prlimit64`` on it (its descriptors or its CPU time cut to nothing);
``fcntl(F_SETOWN)`` naming it and ``F_SETOWN_EX``, ``ioctl(FIOSETOWN)`` and ``ioctl(SIOCSPGRP)``
(whose target a filter cannot read), which would make the kernel signal it on I/O. Pids are compared
on their low 32 bits, as the kernel reads them. What only slows the agent (``setpriority``,
``sched_setaffinity``, ``ioprio_set``) is left: it can only make the tenant's own invocations slower.
The rest of the agent's protection is its own (see ``runtimes/agent/hardening.py``): it is not
dumpable, so its memory, ``/proc/<pid>/environ`` and descriptors are closed to the function; and
``ptrace`` and ``process_vm_*`` are off the allow-list for everyone.

It is a second program because libseccomp refuses a rule whose action is its filter's default:
the allow-list's default is ``EPERM`` already, so "allowed, unless this argument" takes a program
whose default is to allow. The kernel runs both and keeps the stricter answer.

**Architectures**: the programs are built for the native ABI only, with the names resolved for it;
a name this architecture (or this libseccomp) does not know is left out. A call through another
ABI (i386's ``int 0x80`` or x32 on x86_64, AArch32 on arm64) kills the process: no runtime here
uses one, and they are where the kernel's compat bugs live. On s390 ``clone`` takes its flags as
its second argument, and the rule follows. A system call newer than this libseccomp fails with
``EPERM`` like any other that is not listed.

``LAMBENT_SECCOMP=unconfined`` launches sandboxes without either program (for an operator chasing
a function that needs a call this list lacks); the agent then keeps only what it does itself.
"""

from __future__ import annotations

import errno
import functools
import os
from typing import Any

#: The agent's pid inside every sandbox: bwrap's init is 1, the command it starts is 2.
AGENT_PID = 2

ALLOWED = (
    # Files and descriptors.
    "access", "chdir", "chmod", "chown", "close", "close_range", "copy_file_range", "creat", "dup", "dup2",
    "dup3", "faccessat", "faccessat2", "fadvise64", "fallocate", "fchdir", "fchmod", "fchmodat", "fchown",
    "fchownat", "fcntl", "fdatasync", "flock", "fstat", "fstatfs", "fsync", "ftruncate", "futimesat",
    "getcwd", "getdents", "getdents64", "lchown", "link", "linkat", "lseek", "lstat", "mkdir", "mkdirat",
    "mknod", "mknodat", "name_to_handle_at", "newfstatat", "open", "openat", "openat2", "pread64", "preadv",
    "preadv2", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv",
    "rename", "renameat", "renameat2", "rmdir", "sendfile", "splice", "stat", "statfs", "statx", "symlink",
    "symlinkat", "sync", "sync_file_range", "syncfs", "tee", "truncate", "umask", "unlink", "unlinkat",
    "utime", "utimensat", "utimes", "vmsplice", "write", "writev",
    # Extended attributes, file change notification.
    "fgetxattr", "flistxattr", "fremovexattr", "fsetxattr", "getxattr", "lgetxattr", "listxattr",
    "llistxattr", "lremovexattr", "lsetxattr", "removexattr", "setxattr", "fanotify_mark",
    "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
    # Waiting on descriptors, events, timers.
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait",
    "epoll_wait_old", "eventfd", "eventfd2", "pipe", "pipe2", "poll", "ppoll", "pselect6", "select",
    "signalfd", "signalfd4", "timerfd_create", "timerfd_gettime", "timerfd_settime",
    # Asynchronous I/O of the old kind (libaio), not io_uring.
    "io_cancel", "io_destroy", "io_getevents", "io_pgetevents", "io_setup", "io_submit",
    # Memory.
    "brk", "madvise", "membarrier", "memfd_create", "memfd_secret", "mincore", "mlock", "mlock2", "mlockall",
    "mmap", "mprotect", "mremap", "msync", "munlock", "munlockall", "munmap", "pkey_alloc", "pkey_free",
    "pkey_mprotect", "remap_file_pages",
    # Processes and threads (``clone`` is allowed below, for some flags).
    "execve", "execveat", "exit", "exit_group", "fork", "vfork", "wait4", "waitid", "pidfd_open",
    "set_robust_list", "get_robust_list", "set_tid_address", "rseq", "restart_syscall", "futex",
    "futex_waitv", "arch_prctl", "prctl", "seccomp", "capget", "capset",
    # Signals (those that aim at a process are guarded: see ``guard_program``).
    "kill", "tkill", "tgkill", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo",
    "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_tgsigqueueinfo", "sigaltstack", "pause",
    # Identity, limits, scheduling.
    "getegid", "geteuid", "getgid", "getgroups", "getpgid", "getpgrp", "getpid", "getppid", "getresgid",
    "getresuid", "getsid", "gettid", "getuid", "setfsgid", "setfsuid", "setgid", "setgroups", "setpgid",
    "setregid", "setresgid", "setresuid", "setreuid", "setsid", "setuid", "getrlimit", "setrlimit",
    "prlimit64", "getrusage", "getpriority", "setpriority", "ioprio_get", "ioprio_set", "getcpu",
    "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_get_priority_max", "sched_get_priority_min",
    "sched_getscheduler", "sched_rr_get_interval", "sched_setaffinity", "sched_setattr", "sched_setparam",
    "sched_setscheduler", "sched_yield",
    # Time.
    "alarm", "clock_getres", "clock_gettime", "clock_nanosleep", "getitimer", "gettimeofday", "nanosleep",
    "setitimer", "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_settime",
    "times",
    # Sockets (``socket`` itself is allowed below, for some families).
    "accept", "accept4", "bind", "connect", "getpeername", "getsockname", "getsockopt", "listen", "recvfrom",
    "recvmmsg", "recvmsg", "sendmmsg", "sendmsg", "sendto", "setsockopt", "shutdown", "socketpair",
    # System V and POSIX IPC (the sandbox has an IPC namespace of its own).
    "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedsend", "mq_unlink", "msgctl",
    "msgget", "msgrcv", "msgsnd", "semctl", "semget", "semop", "semtimedop", "shmat", "shmctl", "shmdt",
    "shmget",
    # The rest.
    "getrandom", "ioctl", "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "sysinfo",
    "uname",
    # Architecture-specific, resolved only where they exist: 32-bit ABIs' variants, ARM, POWER, s390, RISC-V.
    "_llseek", "_newselect", "chown32", "clock_gettime64", "clock_getres_time64", "clock_nanosleep_time64",
    "fadvise64_64", "fchown32", "fcntl64", "fstat64", "fstatat64", "fstatfs64", "ftruncate64", "futex_time64",
    "getegid32", "geteuid32", "getgid32", "getgroups32", "getresgid32", "getresuid32", "getuid32",
    "io_pgetevents_time64", "lchown32", "lstat64", "mmap2", "mq_timedreceive_time64", "mq_timedsend_time64",
    "ppoll_time64", "pselect6_time64", "recvmmsg_time64", "rt_sigtimedwait_time64",
    "sched_rr_get_interval_time64", "semtimedop_time64", "sendfile64", "setfsgid32", "setfsuid32", "setgid32",
    "setgroups32", "setregid32", "setresgid32", "setresuid32", "setreuid32", "setuid32", "sigreturn",
    "stat64", "statfs64", "timer_gettime64", "timer_settime64", "timerfd_gettime64", "timerfd_settime64",
    "truncate64", "ugetrlimit", "utimensat_time64", "arm_fadvise64_64", "arm_sync_file_range", "breakpoint",
    "cacheflush", "set_tls", "sync_file_range2", "swapcontext", "s390_pci_mmio_read", "s390_pci_mmio_write",
    "s390_runtime_instr", "riscv_flush_icache",
)

_NAMESPACE_FLAGS = 0x7E020000  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
# PER_LINUX, PER_LINUX32, UNAME26, UNAME26 | PER_LINUX32, and 0xffffffff, which only queries.
_PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)
_AF_VSOCK = 40
_LOW32 = 0xFFFFFFFF
_F_SETOWN, _F_SETOWN_EX = 8, 15
_FIOSETOWN, _SIOCSPGRP = 0x8901, 0x8902


class SeccompUnavailable(Exception):
    """libseccomp is missing, or cannot build a filter for this architecture."""


def _library() -> Any:
    """pyseccomp, imported only when a sandbox is launched: it loads libseccomp as it is imported."""
    try:
        import pyseccomp
    except (ImportError, RuntimeError) as error:  # RuntimeError: pyseccomp found no libseccomp
        raise SeccompUnavailable(f"no libseccomp here ({error}): apt-get install libseccomp2") from error
    return pyseccomp


def _export(syscall_filter: Any) -> bytes:
    fd = os.memfd_create("lambent-seccomp-export", os.MFD_CLOEXEC)
    with os.fdopen(fd, "w+b") as file:
        syscall_filter.export_bpf(file)
        file.seek(0)
        return file.read()


def _known(seccomp: Any, name: str) -> bool:
    """Whether ``name`` is a system call of the native ABI (libseccomp resolves it to a number)."""
    return bool(seccomp.resolve_syscall(seccomp.Arch.NATIVE, name) >= 0)


@functools.cache
def allow_list_program() -> bytes:
    """The allow-list as a BPF program (``struct sock_filter`` entries, as bwrap reads them)."""
    seccomp = _library()
    try:
        syscall_filter = seccomp.SyscallFilter(seccomp.ERRNO(errno.EPERM))
        syscall_filter.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.KILL_PROCESS)
        syscall_filter.set_attr(seccomp.Attr.CTL_OPTIMIZE, 2)  # a binary tree: a few jumps per call, not ~300
        for name in ALLOWED:
            if _known(seccomp, name):
                syscall_filter.add_rule(seccomp.ALLOW, name)
        s390 = seccomp.system_arch() in (seccomp.Arch.S390, seccomp.Arch.S390X)
        syscall_filter.add_rule(seccomp.ALLOW, "clone", seccomp.Arg(1 if s390 else 0, seccomp.MASKED_EQ,
                                                                    _NAMESPACE_FLAGS, 0))
        syscall_filter.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
        for persona in _PERSONALITIES:  # compared on the low 32 bits, as the kernel reads the argument
            syscall_filter.add_rule(seccomp.ALLOW, "personality", seccomp.Arg(0, seccomp.MASKED_EQ, _LOW32, persona))
        syscall_filter.add_rule(seccomp.ALLOW, "socket", seccomp.Arg(0, seccomp.NE, _AF_VSOCK))
        return _export(syscall_filter)
    except OSError as error:
        raise SeccompUnavailable(f"libseccomp cannot build the allow-list here: {error}") from error


@functools.cache
def guard_program(agent_pid: int = AGENT_PID) -> bytes:
    """The agent's guard as a BPF program: what aims at ``agent_pid`` fails with EPERM, all else passes."""
    seccomp = _library()

    def low32(argument: int, value: int) -> Any:
        return seccomp.Arg(argument, seccomp.MASKED_EQ, _LOW32, value & _LOW32)

    deny = seccomp.ERRNO(errno.EPERM)
    try:
        syscall_filter = seccomp.SyscallFilter(seccomp.ALLOW)
        syscall_filter.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.KILL_PROCESS)
        syscall_filter.set_attr(seccomp.Attr.CTL_OPTIMIZE, 2)  # every call runs it: a tree, not a chain
        for target in (agent_pid, -agent_pid, -1):
            syscall_filter.add_rule(deny, "kill", low32(0, target))
        for name in ("tkill", "rt_sigqueueinfo", "prlimit64"):
            syscall_filter.add_rule(deny, name, low32(0, agent_pid))
        for name in ("tgkill", "rt_tgsigqueueinfo"):
            syscall_filter.add_rule(deny, name, low32(0, agent_pid))
            syscall_filter.add_rule(deny, name, low32(1, agent_pid))
        syscall_filter.add_rule(deny, "setpgid", low32(1, agent_pid))
        fcntls = [name for name in ("fcntl", "fcntl64") if _known(seccomp, name)]
        for name in fcntls:
            for target in (agent_pid, -agent_pid):
                syscall_filter.add_rule(deny, name, low32(1, _F_SETOWN), low32(2, target))
            syscall_filter.add_rule(deny, name, low32(1, _F_SETOWN_EX))
        for request in (_FIOSETOWN, _SIOCSPGRP):
            syscall_filter.add_rule(deny, "ioctl", low32(1, request))
        return _export(syscall_filter)
    except OSError as error:
        raise SeccompUnavailable(f"libseccomp cannot build the agent's guard here: {error}") from error


def program_fds() -> list[int]:
    """Descriptors holding both programs, for one launch (bwrap reads each to its end and closes it):
    memory files of their own, so that concurrent launches never share a read offset."""
    descriptors = []
    for program in (allow_list_program(), guard_program()):
        fd = os.memfd_create("lambent-seccomp", os.MFD_CLOEXEC)
        os.write(fd, program)
        os.lseek(fd, 0, os.SEEK_SET)
        descriptors.append(fd)
    return descriptors
