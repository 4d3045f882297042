"""The cgroup drivers: v1 for real on this host, v2 against a fake cgroupfs tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.executors.local import running
from worker.executors.local.cgroups import (
    CgroupDriver,
    CgroupUnavailable,
    CgroupV1Driver,
    CgroupV2Driver,
    cpu_shares,
    cpu_weight,
    detect,
)

ROOT = Path("/sys/fs/cgroup")
V1_HOST = os.geteuid() == 0 and (ROOT / "memory" / "cgroup.procs").exists()
needs_v1_root = pytest.mark.skipif(not V1_HOST, reason="needs root and cgroup v1 memory, pids, cpu hierarchies")
JOIN = 'while [ "$1" != -- ]; do echo $$ > "$1"; shift; done; shift; exec "$@"'


def start_in(procs_files: list[Path], *command: str) -> subprocess.Popen[bytes]:
    """A process that joins the cgroups before it execs ``command``."""
    return subprocess.Popen(["/bin/sh", "-c", JOIN, "join", *map(str, procs_files), "--", *command])


@pytest.fixture
def v1() -> Iterator[CgroupDriver]:
    driver = detect(parent=f"lambent-test-{uuid.uuid4().hex[:8]}")
    yield driver
    driver.reap_all()
    for name in ("pids", "memory", "cpu", "freezer"):
        parent = ROOT / name / driver.parent
        if parent.exists():
            parent.rmdir()


def test_cpu_share_is_proportional_to_memory() -> None:
    assert cpu_shares(1769) == 1024 and cpu_weight(1769) == 100
    assert cpu_shares(128) == 74 and cpu_weight(128) == 7
    assert cpu_shares(3538) == 2048 and cpu_weight(3538) == 200
    assert cpu_shares(1) == 2 and cpu_weight(1) == 1
    assert cpu_shares(10**7) == 262144 and cpu_weight(10**7) == 10000


@needs_v1_root
def test_detect_picks_v1_on_this_host() -> None:
    driver = detect()
    assert isinstance(driver, CgroupV1Driver) and driver.version == 1
    assert driver.parent == "lambent"


def test_detect_explains_when_there_is_no_cgroup(tmp_path: Path) -> None:
    with pytest.raises(CgroupUnavailable, match="no cgroup v2 .* no cgroup v1"):
        detect(tmp_path)


@needs_v1_root
def test_v1_create_writes_the_limits(v1: CgroupDriver) -> None:
    cgroup = v1.create("limits", memory_mb=128, pids_max=20)
    memory, pids, cpu = (ROOT / name / v1.parent / "limits" for name in ("memory", "pids", "cpu"))
    assert (memory / "memory.limit_in_bytes").read_text().strip() == str(128 << 20)
    assert (memory / "memory.memsw.limit_in_bytes").read_text().strip() == str(128 << 20)
    assert (pids / "pids.max").read_text().strip() == "20"
    assert (cpu / "cpu.shares").read_text().strip() == str(cpu_shares(128))
    assert {path.parent.parent.parent.name for path in cgroup.procs_files()} >= {"memory", "pids", "cpu"}
    assert cgroup.pids() == [] and cgroup.oom_kills() == 0
    cgroup.destroy()
    assert not any(directory.exists() for directory in cgroup.directories)
    cgroup.destroy()  # idempotent


@needs_v1_root
def test_v1_set_limits_writes_only_limits_that_change(v1: CgroupDriver) -> None:
    cgroup = v1.create("respecialized", memory_mb=128, pids_max=20)
    memory, pids = (ROOT / name / v1.parent / "respecialized" for name in ("memory", "pids"))
    (pids / "pids.max").write_text("19")  # a mark: a rewrite of the same limits would erase it
    cgroup.set_limits(memory_mb=128, pids_max=20)
    assert (pids / "pids.max").read_text().strip() == "19"
    cgroup.set_limits(memory_mb=256, pids_max=20)
    assert (memory / "memory.limit_in_bytes").read_text().strip() == str(256 << 20)
    assert (pids / "pids.max").read_text().strip() == "20"
    cgroup.destroy()


@needs_v1_root
def test_v1_kill_takes_every_process_and_destroy_removes_the_cgroup(v1: CgroupDriver) -> None:
    cgroup = v1.create("tree", memory_mb=64, pids_max=16)
    shell = start_in(cgroup.procs_files(), "/bin/sh", "-c", "sleep 300 & setsid sleep 300 & wait")
    while len(cgroup.pids()) < 3:
        assert shell.poll() is None
    members = cgroup.pids()
    assert shell.pid in members and cgroup.peak_memory_bytes() > 0
    cgroup.destroy()
    assert shell.wait(5) == -9
    assert not any(running(pid) for pid in members)
    assert not any(directory.exists() for directory in cgroup.directories)


@needs_v1_root
def test_reap_all_takes_what_a_previous_executor_left(v1: CgroupDriver) -> None:
    own = v1.create("mine", memory_mb=64, pids_max=8)
    # A previous executor process's sandbox: made by hand, not by this process's drivers.
    left = [ROOT / name / v1.parent / "previous" for name in ("pids", "memory", "cpu", "freezer")]
    for directory in left:
        directory.mkdir()
    sleeper = start_in([directory / "cgroup.procs" for directory in left], "sleep", "300")
    while not (left[0] / "cgroup.procs").read_text().split():
        assert sleeper.poll() is None
    assert v1.list_orphans() == ["previous"]
    assert v1.reap_all() == ["previous"]
    assert sleeper.wait(5) == -9
    assert not any(directory.exists() for directory in left)
    assert all(directory.exists() for directory in own.directories)
    own.destroy()


class FakeCgroupFs(CgroupV2Driver):
    """cgroup v2 in a plain directory: mkdir creates the interface files as the kernel does,
    and removing a cgroup removes them with it."""

    INTERFACE = {
        "cgroup.procs": "", "cgroup.subtree_control": "", "cgroup.kill": "", "memory.max": "max",
        "memory.swap.max": "max", "memory.peak": "0", "memory.current": "0", "memory.events": "",
        "pids.max": "max", "cpu.weight": "100",
    }

    def _make_dir(self, directory: Path) -> None:
        directory.mkdir()
        for name, content in self.INTERFACE.items():
            (directory / name).write_text(content)

    def _remove_dir(self, directory: Path) -> None:
        shutil.rmtree(directory)


@pytest.fixture
def fake_v2(tmp_path: Path) -> Path:
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids rdma misc\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    (tmp_path / "cgroup.procs").write_text("1\n")
    return tmp_path


def test_detect_picks_v2_when_cgroup_controllers_exists(fake_v2: Path) -> None:
    driver = detect(fake_v2, parent="sandboxes")
    assert isinstance(driver, CgroupV2Driver) and driver.version == 2 and driver.root == fake_v2


def test_v2_create_enables_controllers_and_writes_the_limits(fake_v2: Path) -> None:
    cgroup = FakeCgroupFs(root=fake_v2).create("sb1", memory_mb=512, pids_max=64)
    directory = fake_v2 / "lambent" / "sb1"
    assert (fake_v2 / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"
    assert (fake_v2 / "lambent" / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"
    assert (directory / "memory.max").read_text() == str(512 << 20)
    assert (directory / "memory.swap.max").read_text() == "0"
    assert (directory / "pids.max").read_text() == "64"
    assert (directory / "cpu.weight").read_text() == str(cpu_weight(512)) == "29"
    assert cgroup.procs_files() == [directory / "cgroup.procs"]


def test_v2_nested_parent_and_no_swap_file(fake_v2: Path) -> None:
    driver = FakeCgroupFs(root=fake_v2, parent="lambent.slice/sandboxes")
    driver.INTERFACE = {name: value for name, value in FakeCgroupFs.INTERFACE.items() if name != "memory.swap.max"}
    driver.create("sb1", memory_mb=128, pids_max=8)
    for level in (fake_v2, fake_v2 / "lambent.slice", fake_v2 / "lambent.slice" / "sandboxes"):
        assert (level / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"
    assert not (fake_v2 / "lambent.slice" / "sandboxes" / "sb1" / "memory.swap.max").exists()


def test_v2_refuses_a_host_without_the_controllers(fake_v2: Path) -> None:
    (fake_v2 / "cgroup.controllers").write_text("cpuset io\n")
    with pytest.raises(CgroupUnavailable, match=r"\['cpu', 'memory', 'pids'\]"):
        FakeCgroupFs(root=fake_v2).create("sb1", memory_mb=128, pids_max=8)


def test_v2_reads_pids_peak_and_oom_kills(fake_v2: Path) -> None:
    cgroup = FakeCgroupFs(root=fake_v2).create("sb1", memory_mb=128, pids_max=8)
    directory = cgroup.directories[0]
    (directory / "cgroup.procs").write_text("41\n42\n")
    (directory / "memory.peak").write_text("7340032\n")
    (directory / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n")
    assert cgroup.pids() == [41, 42]
    assert cgroup.peak_memory_bytes() == 7340032
    assert cgroup.oom_kills() == 1
    older = FakeCgroupFs(root=fake_v2).create("sb2", memory_mb=128, pids_max=8)  # kernels before 5.19: no peak
    (older.directories[0] / "memory.peak").unlink(missing_ok=True)
    (older.directories[0] / "memory.current").write_text("4096\n")
    assert older.peak_memory_bytes() == 4096


def test_v2_kill_writes_cgroup_kill_until_empty_then_destroy_removes(fake_v2: Path) -> None:
    cgroup = FakeCgroupFs(root=fake_v2).create("sb1", memory_mb=128, pids_max=8)
    directory = cgroup.directories[0]
    (directory / "cgroup.procs").write_text("41\n")
    killer = threading.Thread(target=cgroup.destroy)
    killer.start()
    while (directory / "cgroup.kill").read_text() != "1":
        assert killer.is_alive()
    (directory / "cgroup.procs").write_text("")  # the kernel empties the cgroup
    killer.join(5)
    assert not killer.is_alive() and not directory.exists()
    assert (fake_v2 / "lambent").is_dir()


def test_v2_orphans_are_the_cgroups_this_process_did_not_create(fake_v2: Path) -> None:
    driver = FakeCgroupFs(root=fake_v2)
    driver.create("mine", memory_mb=128, pids_max=8)
    driver._make_dir(fake_v2 / "lambent" / "left-behind")
    assert driver.list_orphans() == ["left-behind"]
    assert FakeCgroupFs(root=fake_v2).list_orphans() == ["left-behind"]
    assert driver.reap_all() == ["left-behind"]
    assert not (fake_v2 / "lambent" / "left-behind").exists() and (fake_v2 / "lambent" / "mine").exists()


def test_names_are_single_path_components(fake_v2: Path) -> None:
    driver = FakeCgroupFs(root=fake_v2)
    for name in ("../escape", "a/b", "", ".."):
        with pytest.raises(ValueError):
            driver.create(name, memory_mb=128, pids_max=8)
