"""The ``lambent`` command: the operator's entry point.

Every subcommand is a Django management command (``lambent up``, ``lambent api``,
``lambent tenant ...``, and Django's own such as ``lambent migrate``), so the console
script and ``manage.py`` are the same program.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lambent.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
