"""The ``lambent`` command: the operator's entry point.

Every subcommand is a Django management command, so the console script and ``manage.py``
are the same program; ``lambent --help`` lists Lambent's own (``up``, ``api``, ``tenant``, ...)
and the few of Django's an operator needs, and ``lambent django ...`` reaches all of Django's.

On the embedded defaults the database is a file in the data directory, so a command run where
there is none (outside the repository root, say) would start an empty installation beside the
real one, with secrets of its own. Only the commands that set an installation up (``up``,
``migrate``) or are its processes may create it; any other command (``tenant``, ``quota``, ...)
says where it looked and how to point it elsewhere.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: Django's commands that belong to running Lambent, listed with Lambent's own.
DJANGO_ESSENTIALS = ("migrate", "createsuperuser", "changepassword")
#: The commands that set an installation up or are its processes, and so may create its data directory.
CREATING = ("up", "migrate", "api", "worker", "beat", "executor")


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lambent.settings")
    argv = sys.argv
    command = argv[1] if len(argv) > 1 else "--help"
    if command in ("--version", "version"):
        import lambent

        print(f"lambent {lambent.__version__}")
        return
    if command == "django":
        _run([argv[0], *argv[2:]])
        return
    missing = _missing_data_dir(command)
    if missing:
        sys.exit(missing)
    if command in ("--help", "-h", "help") and len(argv) <= 2:
        _help()
        return
    _run(argv)


def _run(argv: list[str]) -> None:
    from django.core.management import execute_from_command_line
    from django.db.utils import OperationalError

    try:
        execute_from_command_line(argv)
    except OperationalError as exc:
        sys.exit(f"lambent: the database is not ready ({exc}); run `lambent migrate` (or `make dev`) first.")


def _missing_data_dir(command: str) -> str | None:
    """Why ``command`` must not run here: no data directory holds the embedded database."""
    if command in CREATING or command in ("--help", "-h", "help") or os.environ.get("LAMBENT_DATABASE_URL"):
        return None
    given = os.environ.get("LAMBENT_DATA_DIR", "").strip()
    data_dir = Path(given or ".lambent").expanduser().resolve()
    if data_dir.is_dir():
        return None
    where = "LAMBENT_DATA_DIR" if given else "the default: .lambent in the working directory"
    return (f"lambent: no data directory at {data_dir} ({where}). Run this where `make dev` runs (the "
            "repository root), or set LAMBENT_DATA_DIR to your installation's data directory; `lambent up` "
            "creates a new one.")


def _help() -> None:
    import django
    from django.core.management import get_commands

    django.setup()
    commands = get_commands()
    own = sorted(name for name, app in commands.items() if app == "lambent" or app.startswith("lambent."))
    print("usage: lambent <command> [options]     (lambent <command> --help for its options)\n")
    print("Lambent's commands:")
    for name in own:
        print(f"  {name}")
    print("\nDjango's, for operators:")
    for name in DJANGO_ESSENTIALS:
        print(f"  {name}")
    print("\n`lambent django help` lists every Django command; `lambent django <command>` runs one.")
    print("`lambent --version` prints the version.")
