"""What the agent does itself to stay out of the function's reach: it is not dumpable.

Every process of a sandbox runs as the same uid (bwrap maps a single one), so by the usual rules
the function could read and write the agent's memory (``/proc/<pid>/mem``, ``process_vm_readv``),
its environment, its descriptors (``/proc/<pid>/fd``) and its OOM score. The agent reports the
duration of every invocation and will hold the platform's secrets (a lease token), so it makes
itself *not dumpable* (``prctl(PR_SET_DUMPABLE, 0)``) as its first act: the kernel's ptrace access
check then fails for any process lacking ``CAP_SYS_PTRACE``, which no process of a sandbox has, and
the files under ``/proc/<pid>`` of the agent belong to root, not to its uid (inside, where root is
not mapped, they show as 65534).
Chosen over a uid of its own inside the sandbox: bwrap, unprivileged, maps only one.

The rest is the seccomp guard the executor has bwrap load (``worker/executors/local/seccomp.py``):
``ptrace`` and ``process_vm_*`` are denied to every process, and signals, process groups, rlimits
and I/O owners that aim at the agent's pid. What the function still sees of the agent: its
``/proc/<pid>/cmdline`` and ``status`` (world-readable), so nothing secret ever goes on its command
line; and the Runtime API it serves on the sandbox's loopback, which is the function's by design.

A fork inherits the flag: the Python runtime the agent forks (``launcher``) makes itself dumpable
again before it runs anything of the function, so that to the function it is an ordinary process,
as an exec'd one is (exec sets the flag anew). What a fork copies is the agent's memory as it was:
the standby is forked before the agent reads anything from the platform (see ``launcher``).

Through ``_ctypes`` rather than ``ctypes``, which costs the agent's start 2.5 ms more (measured here).
"""

import _ctypes

PR_SET_DUMPABLE = 4


class _ULong(_ctypes._SimpleCData):  # what ctypes.c_ulong is
    _type_ = "L"


class _Int(_ctypes._SimpleCData):  # what ctypes.c_int is
    _type_ = "i"


class _Function(_ctypes.CFuncPtr):  # what ctypes.CDLL makes of a C function
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = _Int


class _Program:
    """The running program's own symbols (libc's included), as ``ctypes.CDLL(None)`` opens them."""

    _handle = _ctypes.dlopen(None, 0)  # type: ignore[arg-type]  # None: the program itself, as dlopen(3) has it


_prctl = _Function(("prctl", _Program()))  # type: ignore[arg-type]  # it reads only the ``_handle``


def set_dumpable(dumpable: bool) -> None:
    """``prctl(PR_SET_DUMPABLE, ...)``; ``OSError`` if the kernel refuses."""
    if _prctl(_ULong(PR_SET_DUMPABLE), _ULong(int(dumpable)), _ULong(0), _ULong(0), _ULong(0)) != 0:
        error = _ctypes.get_errno()
        raise OSError(error, f"prctl(PR_SET_DUMPABLE, {int(dumpable)}) failed")
