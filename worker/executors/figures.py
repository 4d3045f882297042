"""What an invocation is billed and metered by, and why the tenant cannot change it.

- Max memory: the sandbox cgroup's own peak counter (``memory.max_usage_in_bytes`` on cgroup v1,
  ``memory.peak`` on v2), read on the host by whoever sent the invocation (the executor, or the
  lease's holder: see ``worker.executors.meter``). Nothing of it passes through the sandbox:
  ``/sys`` is not mounted there, and no process of it may write a cgroup file.
- Duration (and init duration): timed by the agent, outside the runtime, from the moment it hands
  the runtime its event to the moment the runtime answers, with a clock the function cannot set.
  The function cannot reach the agent either (see ``runtimes/agent/hardening.py`` and
  ``seccomp``): no ptrace, no signal, no memory, no descriptor of it. And should the agent be
  made to lie all the same, its figures are held to the sender's own clock around the exchange
  (the executor's, or the lease holder's): never more than the sender measured, never less than
  that minus the init the exchange overlapped and ``SLACK_MS``. An agent's figure outside those
  bounds is replaced by the bound and counted (``lambent_figures_corrected_total{figure}``, in the
  metrics of the process that sent the invocation).

``SLACK_MS`` is what an honest agent's figure may fall short of the sender's: the frames'
trip both ways and the wake-ups on each side (~0.2 ms idle), up to the scheduling delays of a
loaded host, and a runtime that had yet to ask for its next event when this one came: what it did
after answering the previous one is billed, past the slack, to the invocation that waited for it.
"""

from __future__ import annotations

import math

from prometheus_client import Counter

CORRECTED = Counter("lambent_figures_corrected", "Figures an agent reported outside the sender's own measure, "
                    "replaced by its bound: a runtime or an agent that lied, or a host too loaded to tell.",
                    ["figure"])

SLACK_MS = 20.0


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def duration_ms(*, reported: object, measured_ms: float, init_ms: float | None) -> float:
    """The duration to bill: the agent's ``reported`` figure held to ``measured_ms`` (the sender's
    time from sending the invocation to reading its result), of which ``init_ms`` was init."""
    high = max(measured_ms, 0.0)
    low = max(high - (init_ms or 0.0) - SLACK_MS, 0.0)
    value = _number(reported)
    if value is None or not low <= value <= high:
        CORRECTED.labels("duration").inc()
        return high if value is None or value > high else low
    return value


def init_duration_ms(*, reported: object, measured_ms: float) -> float | None:
    """The init duration to report: the agent's figure, never more than the sender's ``measured_ms``
    since it sent the init (None if the agent reported none)."""
    if reported is None:
        return None
    value = _number(reported)
    if value is None or not 0.0 <= value <= measured_ms:
        CORRECTED.labels("init_duration").inc()
        return max(measured_ms, 0.0) if value is None or value > measured_ms else 0.0
    return value
