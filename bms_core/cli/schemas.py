"""``python -m bms_core schemas``: write or check the published JSON Schema files.

``schemas/*.json`` are generated from the contract's Structs
(:func:`bms_core.contract.json_schemas`); ``--write`` refreshes them, ``--check`` (the default)
exits 1 naming every file that is missing or differs, so CI catches a contract change that
was not published.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Final

HELP: Final = "write (--write) or check (--check, default) the JSON Schema files in schemas/"
DEFAULT_DIR: Final = Path(__file__).resolve().parents[2] / "schemas"


def rendered() -> dict[str, str]:
    """File name -> exact file text the contract implies (sorted keys, 2-space indent)."""
    from bms_core.contract import json_schemas

    return {
        name: json.dumps(schema, indent=2, sort_keys=True) + "\n"
        for name, schema in json_schemas().items()
    }


def stale_files(directory: Path) -> list[str]:
    """Names of schema files in ``directory`` that are missing or differ from the contract."""
    stale = []
    for name, text in rendered().items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return stale


def add_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="write the schema files")
    mode.add_argument(
        "--check", action="store_true", help="exit 1 if a file is missing or stale (default)"
    )
    parser.add_argument(
        "--dir", type=Path, default=DEFAULT_DIR, help=f"schema folder (default {DEFAULT_DIR})"
    )


def run(args: argparse.Namespace) -> int:
    directory: Path = args.dir
    if args.write:
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in rendered().items():
            (directory / name).write_text(text, encoding="utf-8")
            print(f"wrote {directory / name}", file=sys.stderr)
        return 0
    stale = stale_files(directory)
    for name in stale:
        print(
            f"{directory / name} is missing or stale; run: python -m bms_core schemas --write",
            file=sys.stderr,
        )
    if not stale:
        print(f"schemas in {directory} match the contract", file=sys.stderr)
    return 1 if stale else 0
