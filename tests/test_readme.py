"""The README's first hour, run as written: the quick start, the curl section, the boto3 example
and the AWS CLI example, in that order, against a fresh platform (``make dev`` in its own data
directory), each block's output checked against the output the README shows.

The blocks are read from the README itself, so this test breaks when the README and the product
disagree. The one liberty taken: the platform listens on a free port instead of 8000 (the
README's ``localhost:8000`` is rewritten), so the test never meets a developer's own ``make dev``.
Not run: ``make test`` (this is it) and ``lambent createsuperuser`` (it asks for a password).
Expected output is each ``# `` comment under a command (``#  `` continues the line above;
``...`` stands for anything, ``<account id>`` for the tenant's); each must appear, in order.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest

from tests.processes import free_port, wait_until

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parents[1]
SKIPPED = ("make test", ".venv/bin/lambent createsuperuser")


def blocks(section: str, language: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", body, flags=re.DOTALL)


def expected_lines(block: str) -> list[str]:
    """The output a block shows: its comment lines, continuations joined, inline comments of print()."""
    lines: list[str] = []
    for line in block.splitlines():
        if line.startswith("#  ") and lines:
            lines[-1] += line[3:]
        elif line.startswith("# "):
            lines.append(line[2:])
        elif "print(" in line and "  # " in line:
            lines.append(line.split("  # ", 1)[1])
    return lines


def assert_shows(output: str, block: str) -> None:
    remaining = output.splitlines()
    for wanted in expected_lines(block):
        pattern = re.escape(wanted).replace(re.escape("..."), ".*?").replace(re.escape("<account id>"), r"\d{12}")
        for index, line in enumerate(remaining):
            if re.fullmatch(pattern, line.strip()):
                remaining = remaining[index + 1:]
                break
        else:
            raise AssertionError(f"the README shows {wanted!r}, the output was:\n{output}")


def test_the_readme_s_first_hour_runs_as_written() -> None:
    from worker.executors.local.sandbox import remove_tree

    tmp_path = Path(tempfile.mkdtemp(prefix="lambent-readme-"))
    tmp_path.chmod(0o711)  # sandboxes run as other uids and must traverse it
    try:
        _first_hour(tmp_path)
    finally:
        remove_tree(tmp_path)


def _first_hour(tmp_path: Path) -> None:
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith(("LAMBENT_", "DJANGO_"))}
    env.update(LAMBENT_DATA_DIR=str(tmp_path / "data"), LAMBENT_BIND=f"127.0.0.1:{port}", PYTHONUNBUFFERED="1")

    def local(block: str) -> str:
        return block.replace("localhost:8000", f"localhost:{port}")

    (quick_start, *_) = blocks("Quick start", "sh")
    assert quick_start.strip() == "make dev"
    log = open(tmp_path / "make-dev.log", "wb")
    platform = subprocess.Popen(["make", "dev"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        def serving() -> bool:
            assert platform.poll() is None, (tmp_path / "make-dev.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    return b"executor listening" in (tmp_path / "make-dev.log").read_bytes()
            except OSError:
                return False
        wait_until(serving, timeout=120, what="make dev to serve")

        state = tmp_path / "state.sh"
        script = ["set -euo pipefail"]
        for block in blocks("A first function with curl", "sh"):
            if block.strip() in SKIPPED:
                continue
            script += ["echo '<<block>>'", local(block)]
        script.append(f'printf \'KEY=%s\\nSCRATCH=%s\\n\' "$LAMBENT_KEY" "$(pwd)" > {state}')
        run = subprocess.run(["bash", "-c", "\n".join(script)], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=300)
        assert run.returncode == 0, run.stdout + run.stderr
        outputs = run.stdout.split("<<block>>\n")[1:]
        shown = [block for block in blocks("A first function with curl", "sh") if block.strip() not in SKIPPED]
        for output, block in zip(outputs, shown, strict=True):
            assert_shows(output, block)

        values = dict(line.split("=", 1) for line in state.read_text().splitlines())
        key_id, secret = values["KEY"].split(":", 1)
        scratch = Path(values["SCRATCH"])

        def credentials(block: str) -> str:
            return local(block).replace("<access key id>", key_id).replace("<secret>", secret)

        (boto3_example,) = blocks("The Lambda-compatible API", "python")
        ran = subprocess.run([sys.executable, "-c", credentials(boto3_example)], cwd=scratch, env=env,
                             capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0, ran.stderr
        assert_shows(ran.stdout, boto3_example)

        (cli_example,) = blocks("The Lambda-compatible API", "sh")
        cli_env = {**env, "PATH": f"{ROOT / '.venv' / 'bin'}:{env['PATH']}", "HOME": str(tmp_path),
                   "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
        ran = subprocess.run(["bash", "-c", "set -euo pipefail\n" + credentials(cli_example)], cwd=scratch,
                             env=cli_env, capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert_shows(ran.stdout, cli_example)
        assert "hello-boto3" in ran.stdout and "hello-cli" in ran.stdout  # list-functions
    finally:
        os.killpg(platform.pid, signal.SIGINT)
        try:
            platform.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(platform.pid, signal.SIGKILL)
            platform.wait(timeout=10)
        log.close()
