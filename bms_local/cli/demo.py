"""``python -m bms_local demo``: run the whole pipeline locally on a simulated clock."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bms_core.timefmt import parse_iso

HELP = (
    "Run the whole pipeline on one machine on a simulated clock (real handlers, real SDKs, "
    "the local Event Hubs emulator, Azurite, the reference stream job, a SQLite warehouse) "
    "and write a reconciled report."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--minutes", type=int, default=60, help="simulated minutes of bookings (default 60)"
    )
    parser.add_argument(
        "--orders-per-minute",
        type=float,
        default=None,
        help="base order rate (default: the scenario's BMS_ORDERS_PER_MINUTE default)",
    )
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument(
        "--start",
        default=None,
        help="simulated start, ISO-8601, or 'now' for the minutes before the current hour "
        "(default: 2026-12-04T13:30:00Z, a Friday's 19:00-20:00 IST peak, the same every run)",
    )
    parser.add_argument(
        "--burst-orders", type=int, default=200, help="orders of the one HTTP burst (0: none)"
    )
    parser.add_argument(
        "--sample-rate", type=float, default=0.2, help="validator sample rate (default 0.2)"
    )
    parser.add_argument(
        "--duplicate-rate", type=float, default=0.0, help="duplicate deliveries (fault; default 0)"
    )
    parser.add_argument(
        "--malformed-rate", type=float, default=0.0, help="malformed events (fault)"
    )
    parser.add_argument(
        "--tamper-rows", type=int, default=0, help="joined rows to alter in flight (fault)"
    )
    parser.add_argument("--report-dir", type=Path, default=Path("reports/demo"))
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)


def run(args: argparse.Namespace) -> int:
    from bms_local.demo import PEAK_HOUR_START_MS, DemoOptions, hour_before_now_ms, run_demo
    from bms_local.report import render_text, write_report

    if args.minutes < 1:
        raise SystemExit("--minutes must be at least 1")
    if not 0 <= args.sample_rate <= 1:
        raise SystemExit("--sample-rate must be between 0 and 1")
    try:
        if args.start is None:
            start_ms = PEAK_HOUR_START_MS
        elif args.start == "now":
            start_ms = hour_before_now_ms(args.minutes)
        else:
            start_ms = parse_iso(args.start)
    except ValueError as exc:
        print(f"bms_local demo: --start: {exc}", file=sys.stderr)
        return 2
    options = DemoOptions(
        minutes=args.minutes,
        orders_per_minute=args.orders_per_minute,
        seed=args.seed,
        start_ms=start_ms,
        burst_orders=args.burst_orders,
        sample_rate=args.sample_rate,
        duplicate_rate=args.duplicate_rate,
        malformed_rate=args.malformed_rate,
        tamper_rows=args.tamper_rows,
        report_dir=args.report_dir,
        progress=args.progress,
    )
    from bms_core.functions.settings import SettingsError
    from bms_core.traffic.scenario import ScenarioError

    try:
        report = run_demo(options)
    except (ScenarioError, SettingsError) as exc:
        print(f"bms_local demo: {exc}", file=sys.stderr)
        return 2
    print(render_text(report))
    json_path, html_path = write_report(report, args.report_dir)
    print(f"\nReport: {json_path} and {html_path}")
    faults = bool(args.malformed_rate or args.duplicate_rate or args.tamper_rows)
    reconciled = all(report.checks.values())
    # Exit 1 when counts do not reconcile, or when clean data produced findings.
    return 0 if reconciled and (faults or report.verdict == "clean") else 1
