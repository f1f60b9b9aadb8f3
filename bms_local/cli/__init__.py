"""The local stack's command line, ``python -m bms_local <command>``.

The commands are registered here, with the deployed package's dispatcher
(:func:`bms_core.cli.dispatch`); the deployed package knows nothing of them.
"""

from __future__ import annotations

from typing import Final

from bms_core.cli import dispatch

COMMANDS: Final[dict[str, str]] = {
    "eventhubs": "bms_local.cli.eventhubs",
    "job": "bms_local.cli.job",
    "demo": "bms_local.cli.demo",
    "up": "bms_local.cli.up",
    "down": "bms_local.cli.down",
}
"""Command name -> the module that implements it."""


def main(argv: list[str]) -> int:
    """``python -m bms_local`` with ``argv`` (the arguments after the program name)."""
    return dispatch("bms_local", COMMANDS, argv)
