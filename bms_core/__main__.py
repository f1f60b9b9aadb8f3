"""``python -m bms_core <command>``: each command lives in ``bms_core/cli/<command>.py``.

A command module exposes ``HELP: str``, ``add_arguments(parser)`` and ``run(args) -> int``.
Modules are imported only when their command runs, so ``--help`` stays fast.
"""

from __future__ import annotations

import sys

from bms_core.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
