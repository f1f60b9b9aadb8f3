"""``python -m bms_local down``: stop what ``up`` started, and nothing else."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Stop the processes 'python -m bms_local up' started (recorded in its state file)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", type=Path, default=Path(".bms_local"))


def run(args: argparse.Namespace) -> int:
    from bms_local.up import run_down

    print(run_down(args.state_dir))
    return 0
