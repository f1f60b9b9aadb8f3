"""The command line of the deployed package, ``python -m bms_core <command>``.

Each command lives in its own module exposing ``HELP: str``, ``add_arguments(parser)`` and
``run(args) -> int``; a module is imported only when its command runs, so ``--help`` stays
fast. :func:`dispatch` is the dispatcher: a package that has commands registers its own table
with it, so the deployed package lists only the deployed commands.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Final

COMMANDS: Final[dict[str, str]] = {
    "generate": "bms_core.cli.generate",
    "schemas": "bms_core.cli.schemas",
    "publish": "bms_core.cli.publish",
    "tail": "bms_core.cli.tail",
    "sql": "bms_core.cli.sql",
}
"""Command name -> the module that implements it."""


def _load(module: str) -> ModuleType | None:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise


def dispatch(program: str, commands: Mapping[str, str], argv: list[str]) -> int:
    """Parse ``argv`` for ``python -m <program>`` and run the chosen one of ``commands``.

    Only the chosen command's module is imported; the others are listed by name.
    """
    parser = argparse.ArgumentParser(prog=f"python -m {program}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = argv[0] if argv and not argv[0].startswith("-") else None
    for name, module_name in commands.items():
        if chosen is not None and name != chosen:
            sub.add_parser(name)
            continue
        module = _load(module_name)
        if module is None:
            continue
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    args = parser.parse_args(argv)
    result: int = args._run(args)
    return result


def main(argv: list[str]) -> int:
    """``python -m bms_core`` with ``argv`` (the arguments after the program name)."""
    return dispatch("bms_core", COMMANDS, argv)
