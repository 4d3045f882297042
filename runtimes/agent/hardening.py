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

A variable of the agent's own environment that no runtime may see (the digest of the platform's key,
in a pod: see ``attach``) is ``forget``-ed before the standby is forked: taken out of ``posix.environ``
and wiped in place in the block the kernel shows as ``/proc/<pid>/environ``, which a fork copies
(an exec'd runtime gets only the environment the agent builds for it).

Through ``_ctypes`` rather than ``ctypes``, which costs the agent's start 2.5 ms more (measured here).
"""

import _ctypes
import posix

PR_SET_DUMPABLE = 4


class _ULong(_ctypes._SimpleCData):  # what ctypes.c_ulong is
    _type_ = "L"


class _Int(_ctypes._SimpleCData):  # what ctypes.c_int is
    _type_ = "i"


class _Address(_ctypes._SimpleCData):  # what ctypes.c_void_p is
    _type_ = "P"


_FLAGS = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO


class _Function(_ctypes.CFuncPtr):  # what ctypes.CDLL makes of a C function that returns an int
    _flags_ = _FLAGS
    _restype_ = _Int


class _AddressFunction(_ctypes.CFuncPtr):  # one that returns a pointer
    _flags_ = _FLAGS
    _restype_ = _Address


class _SizeFunction(_ctypes.CFuncPtr):  # one that returns a size_t
    _flags_ = _FLAGS
    _restype_ = _ULong


class _Program:
    """The running program's own symbols (libc's included), as ``ctypes.CDLL(None)`` opens them."""

    _handle = _ctypes.dlopen(None, 0)  # type: ignore[arg-type]  # None: the program itself, as dlopen(3) has it


_prctl = _Function(("prctl", _Program()))  # type: ignore[arg-type]  # it reads only the ``_handle``
_getenv = _AddressFunction(("getenv", _Program()))  # type: ignore[arg-type]
_memset = _AddressFunction(("memset", _Program()))  # type: ignore[arg-type]
_strlen = _SizeFunction(("strlen", _Program()))  # type: ignore[arg-type]


def set_dumpable(dumpable: bool) -> None:
    """``prctl(PR_SET_DUMPABLE, ...)``; ``OSError`` if the kernel refuses."""
    if _prctl(_ULong(PR_SET_DUMPABLE), _ULong(int(dumpable)), _ULong(0), _ULong(0), _ULong(0)) != 0:
        error = _ctypes.get_errno()
        raise OSError(error, f"prctl(PR_SET_DUMPABLE, {int(dumpable)}) failed")


def forget(name: str) -> "str | None":
    """Take the variable ``name`` out of the agent's environment, wiping ``NAME=value`` where the kernel
    keeps it; its value, or None if it was not set."""
    value = posix.environ.pop(name.encode(), None)
    address = _getenv(name.encode())
    if address:  # the C library's entry points into the block exec left: wiped, it matches no name
        start = address - len(name) - 1
        _memset(_Address(start), _Int(0), _ULong(len(name) + 1 + _strlen(_Address(address))))
    return None if value is None else value.decode(errors="surrogateescape")
