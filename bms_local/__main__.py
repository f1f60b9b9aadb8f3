"""``python -m bms_local <command>``: eventhubs, job, demo, up, down."""

from __future__ import annotations

import sys

from bms_local.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
