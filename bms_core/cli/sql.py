"""``python -m bms_core sql apply --connection "<ODBC connection string>" [--dialect ...]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bms_core.synapse.ddl import CREATE_TABLES_SCRIPT, DIALECTS, SqlApplyError, apply_scripts, plan
from bms_core.synapse.odbc import OdbcUnavailable

HELP = "Apply the Synapse DDL in sql/ batch by batch over ODBC (or print what would run)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, text in (
        ("apply", "run the scripts' batches over ODBC, stopping at the first failure"),
        ("show", "print the statements a dialect would run, without connecting"),
    ):
        action = sub.add_parser(name, help=text, description=text)
        if name == "apply":
            action.add_argument(
                "--connection",
                required=True,
                help='ODBC connection string, e.g. "Driver={ODBC Driver 18 for SQL Server};'
                "Server=tcp:<workspace>.sql.azuresynapse.net,1433;Database=<pool>;"
                'Authentication=ActiveDirectoryDefault" or "Driver=SQLite3;Database=<path>"',
            )
        action.add_argument(
            "--dialect",
            choices=DIALECTS,
            default="synapse",
            help="synapse (scripts as written) or sqlite (explicit adaptation, see "
            "bms_core/synapse/ddl.py); default synapse",
        )
        action.add_argument(
            "--script",
            action="append",
            type=Path,
            help=f"script to run (repeatable); default {CREATE_TABLES_SCRIPT.name}",
        )


def run(args: argparse.Namespace) -> int:
    scripts = args.script or [CREATE_TABLES_SCRIPT]
    try:
        if args.action == "show":
            for batch, statements, reason in plan(scripts, args.dialect):
                print(f"-- {batch.describe()}")
                print(f"-- skipped: {reason}" if reason else ";\n".join(statements) + ";")
            return 0
        report = apply_scripts(args.connection, scripts, args.dialect)
    except (SqlApplyError, OdbcUnavailable) as exc:
        print(f"sql {args.action}: {exc}", file=sys.stderr)
        return 1
    for batch in report.executed:
        print(f"ok       {batch.describe()}")
    for batch, reason in report.skipped:
        print(f"skipped  {batch.describe()}: {reason}")
    print(f"{len(report.executed)} batches applied, {len(report.skipped)} skipped")
    return 0
