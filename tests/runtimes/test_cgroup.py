"""The agent's reading of its own cgroup (a pod's), against cgroup directories written by the test."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from runtimes.agent.cgroup import COUNT_WAIT_S, OwnCgroup


def test_v2_counters_are_read_afresh(tmp_path: Path) -> None:
    (tmp_path / "memory.peak").write_text("134217728\n")
    events = tmp_path / "memory.events"
    events.write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    cgroup = OwnCgroup.find(v2=str(tmp_path), v1=str(tmp_path / "none"))
    assert cgroup is not None
    assert (cgroup.peak_bytes(), cgroup.oom_kills()) == (134217728, 1)
    with events.open("r+") as handle:  # in place, as the kernel's file changes under the open descriptor
        handle.write("low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\n")
    assert cgroup.oom_kills() == 2
    cgroup.close()


def test_v1_counters_are_found_without_v2(tmp_path: Path) -> None:
    v1 = tmp_path / "memory"
    v1.mkdir()
    (v1 / "memory.max_usage_in_bytes").write_text("1048576\n")
    (v1 / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
    cgroup = OwnCgroup.find(v2=str(tmp_path / "none"), v1=str(v1))
    assert cgroup is not None and (cgroup.peak_bytes(), cgroup.oom_kills()) == (1048576, 0)
    cgroup.close()


def test_no_cgroup_mounted_is_none(tmp_path: Path) -> None:
    assert OwnCgroup.find(v2=str(tmp_path / "a"), v1=str(tmp_path / "b")) is None


def test_a_kill_counted_after_the_runtime_ended_is_waited_for(tmp_path: Path) -> None:
    (tmp_path / "memory.current").write_text("0\n")
    events = tmp_path / "memory.events"
    events.write_text("oom_kill 0\n")
    cgroup = OwnCgroup.find(v2=str(tmp_path), v1=str(tmp_path / "none"))
    assert cgroup is not None

    def count_later() -> None:
        time.sleep(COUNT_WAIT_S / 5)
        with events.open("r+") as handle:
            handle.write("oom_kill 1\n")

    counter = threading.Thread(target=count_later)
    counter.start()
    assert cgroup.oom_killed_since(0)
    counter.join()
    assert not cgroup.oom_killed_since(1)  # nothing more comes: waited out, then no
    cgroup.close()
