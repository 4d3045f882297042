"""``python -I -S /var/runtime/agent/__main__.py ...`` (as in a sandbox) or ``python -m runtimes.agent ...``.

Run as a file, the agent is no package yet, and ``-I`` leaves the script's folder off ``sys.path``:
the folder holding ``agent/`` (``/var/runtime``) goes on it, and this module names its package
(PEP 366), so that the relative imports below work either way.
"""

import sys

if not __package__:
    sys.path.insert(0, __file__.rpartition("/")[0].rpartition("/")[0])
    __package__ = "agent"

from .main import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
