"""A small command dispatcher shared by ``python -m bms_core`` and ``python -m bms_local``."""

from __future__ import annotations

import argparse
import importlib
from types import ModuleType
from typing import Final

COMMANDS: Final[dict[str, dict[str, str]]] = {
    "bms_core": {
        "generate": "bms_core.cli.generate",
        "schemas": "bms_core.cli.schemas",
        "publish": "bms_core.cli.publish",
        "tail": "bms_core.cli.tail",
        "sql": "bms_core.cli.sql",
    },
    "bms_local": {
        "eventhubs": "bms_local.cli.eventhubs",
        "job": "bms_local.cli.job",
        "demo": "bms_local.cli.demo",
        "up": "bms_local.cli.up",
        "down": "bms_local.cli.down",
    },
}


def _load(module: str) -> ModuleType | None:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise


def main(program: str, argv: list[str]) -> int:
    """Parse ``argv`` for ``python -m <program>`` and run the chosen command."""
    parser = argparse.ArgumentParser(prog=f"python -m {program}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = argv[0] if argv and not argv[0].startswith("-") else None
    for name, module_name in COMMANDS[program].items():
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
