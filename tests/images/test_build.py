"""What ``make images`` builds: every image, named as the chart and compose file expect, and what
their final stages hold and leave out."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.images import podman
from tests.images.podman import IMAGES, PLATFORM, ROOT, RUNTIMES, VERSION

pytestmark = pytest.mark.containers

LABELS = ("title", "description", "version", "revision", "source", "licenses", "base.name")
# What a final stage must not hold: compilers and build tools, pip's and apt's caches and lists.
NOTHING_TO_BUILD_WITH = """
for tool in cc gcc g++ c++ clang make ld as; do command -v "$tool"; done
dpkg-query -W -f '${Package}\\n' | grep -E '^(gcc|g\\+\\+|cpp|clang|binutils|make|build-essential)(-[0-9.]+)?$' || true
dpkg-query -W -f '${Package}\\n' | grep -E '^(python3[.0-9]*-dev|python3-pip|libpython3[.0-9]*-dev)$' || true
find / -xdev \\( -path '*/.cache/pip' -o -path /root/.cache \\) -print 2>/dev/null
find /var/cache/apt /var/lib/apt/lists -type f ! -name lock 2>/dev/null
command -v pip pip3 2>/dev/null
true
"""


def test_every_image_is_built_and_its_size_printed(built: dict[str, str]) -> None:
    assert list(built) == IMAGES
    for image in IMAGES:
        assert built[image].endswith(" MB") and int(built[image].split()[0]) > 0
        latest = image.rsplit(":", 1)[0] + ":latest"
        assert podman.inspect(latest)["Id"] == podman.inspect(image)["Id"]


def test_a_second_build_reuses_every_layer(built: dict[str, str]) -> None:
    before = {image: podman.inspect(image)["Id"] for image in IMAGES}
    sizes, elapsed = podman.build()
    print(f"cached build: {elapsed:.1f} s")
    assert sizes == built
    assert {image: podman.inspect(image)["Id"] for image in IMAGES} == before


@pytest.mark.parametrize("image", IMAGES)
def test_the_final_stage_holds_no_compiler_and_no_cache(built: dict[str, str], image: str) -> None:
    result = podman.run(image, "-c", NOTHING_TO_BUILD_WITH, options=("--entrypoint=sh", "--user=0"))
    assert (result.returncode, result.stdout) == (0, "")


@pytest.mark.parametrize("image", IMAGES)
def test_it_runs_as_a_user_that_is_not_root(built: dict[str, str], image: str) -> None:
    user = podman.inspect(image)["Config"]["User"]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0  # numeric: runAsNonRoot checks it
    result = podman.run(image, "-c", "id -u; id -g", options=("--entrypoint=sh",))
    assert result.stdout.split() == [uid, gid]


@pytest.mark.parametrize("image", IMAGES)
def test_it_carries_the_oci_labels(built: dict[str, str], image: str) -> None:
    labels = podman.inspect(image)["Config"]["Labels"]
    assert {f"org.opencontainers.image.{name}" for name in LABELS} <= set(labels)
    assert labels["org.opencontainers.image.version"] == VERSION
    revision = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert labels["org.opencontainers.image.revision"] == revision.stdout.strip()


def test_the_platform_image_checks_its_health_in_the_shell_form(built: dict[str, str]) -> None:
    image = podman.inspect(PLATFORM)
    assert image["Healthcheck"]["Test"] == ["CMD-SHELL", "lambent-healthcheck"]
    config = image["Config"]
    assert config["Entrypoint"] == ["tini", "--", "lambent"] and config["Cmd"] == ["api"]


@pytest.mark.parametrize("version", sorted(RUNTIMES))
def test_a_runtime_image_runs_the_agent_on_its_own_python(built: dict[str, str], version: str) -> None:
    config = podman.inspect(RUNTIMES[version])["Config"]
    assert config["Entrypoint"] == ["python3", "-I", "-S", "/var/runtime/agent/__main__.py"]
    probe = "import json, sys; print(json.dumps([sys.version_info[:2], sys.executable]))"
    result = podman.run(RUNTIMES[version], "-I", "-S", "-c", probe, options=("--entrypoint=python3",))
    assert json.loads(result.stdout) == [[int(part) for part in version.split(".")], "/usr/bin/python3"]
