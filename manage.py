#!/usr/bin/env python3
"""Django's manage.py: the same program as the ``lambent`` command, run from a checkout."""

import sys
from pathlib import Path

# platform/ is a source root holding the lambent package. It has no __init__.py, so the
# stdlib module "platform" still wins over the folder of that name next to this file.
sys.path.insert(0, str(Path(__file__).resolve().parent / "platform"))

from lambent.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
