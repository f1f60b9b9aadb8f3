"""The local pipeline end to end: simulated hours per wall-clock minute and events per second.

Runs ``python -m bms_local demo`` (its default start, the Friday 19:00 IST peak hour; no burst)
for ``--minutes`` simulated minutes, ``--runs`` times; after each run, as the baseline, it
generates the very same events (the same timer windows through the same handlers' generator
calls, into memory: no AMQP, no Azurite, no job). The ratio says what
carrying the events through the real SDKs, the emulator, the stream job, the warehouse, the
joined hub and the validator costs over merely producing them.

    .venv/bin/python -m bench.demo [--minutes 60] [--orders-per-minute N] [--runs 3]
    .venv/bin/python -m bench.demo --profile demo.prof   # the stream stage's top costs
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bms_core.traffic import generator
from bms_core.traffic.scenario import load_scenario
from bms_local.demo import DRAIN_MS, PEAK_HOUR_START_MS, TICK_MS, DemoOptions, run_demo
from bms_local.report import DemoReport


def _generate_only(start_ms: int, minutes: int, orders_per_minute: float | None, seed: int) -> int:
    env = {"BMS_SEED": str(seed), "BMS_DUPLICATE_RATE": "0"}
    if orders_per_minute is not None:
        env["BMS_ORDERS_PER_MINUTE"] = str(orders_per_minute)
    scenario = load_scenario(env)
    end_ms = start_ms + minutes * 60_000
    events = 0
    previous = start_ms
    for tick in range(start_ms + TICK_MS, end_ms + DRAIN_MS + 1, TICK_MS):
        if tick <= end_ms:
            for slot in range(
                generator.slot_at(scenario, previous), generator.slot_at(scenario, tick)
            ):
                events += len(generator.bookings_to_send(scenario, slot))
        events += len(generator.payments_to_send(scenario, previous, tick))
        previous = tick
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--orders-per-minute", type=float, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=1, help="runs; the median is reported too")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="profile the stream stage's process (cProfile) into this file; prints its top costs",
    )
    args = parser.parse_args()
    if args.runs < 1:
        raise SystemExit("--runs must be at least 1")
    start_ms = PEAK_HOUR_START_MS
    walls = []
    options = DemoOptions(
        minutes=args.minutes,
        orders_per_minute=args.orders_per_minute,
        seed=args.seed,
        start_ms=start_ms,
        burst_orders=0,
        progress=False,
    )
    for _ in range(args.runs):
        if args.profile is None:
            report = run_demo(options, log=lambda _line: None)
        else:
            report = _profiled(options, args.profile)
        walls.append(report.wall_seconds)
        _print(report, args, start_ms)
    if args.runs > 1:
        median = statistics.median(walls)
        print(
            f"median of {args.runs} runs: {median:.1f} s "
            f"({', '.join(f'{w:.1f}' for w in walls)}); "
            f"{(args.minutes / 60) / (median / 60):.2f} simulated hours per wall-clock minute"
        )


def _profiled(options: DemoOptions, path: Path) -> DemoReport:
    """One run under cProfile (this process: the stream job, warehouse and report)."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    report = profile.runcall(run_demo, options, log=lambda _line: None)
    profile.dump_stats(path)
    stats = pstats.Stats(str(path))
    stats.sort_stats("cumulative").print_stats(r"bms_(core|local)", 25)
    return report


def _print(report: DemoReport, args: argparse.Namespace, start_ms: int) -> None:
    c = report.counts
    events = c.bookings_sent + c.payments_sent
    began = time.perf_counter()
    baseline_events = _generate_only(start_ms, args.minutes, args.orders_per_minute, args.seed)
    baseline_s = time.perf_counter() - began
    e2e_rate = events / report.wall_seconds
    base_rate = baseline_events / baseline_s
    print(
        f"simulated {args.minutes} min (+{DRAIN_MS // 60_000} min payment drain) in "
        f"{report.wall_seconds:.1f} s: {report.simulated_hours_per_minute:.2f} simulated hours "
        "per wall-clock minute"
    )
    print(
        f"end to end: {events} events ({c.orders} orders, {c.joined_rows} joined rows, "
        f"{c.validated} validated) at {e2e_rate:,.0f} events/s"
    )
    print(
        f"baseline, generating the same events only: {baseline_events} events in "
        f"{baseline_s:.2f} s = {base_rate:,.0f} events/s"
    )
    print(
        f"ratio end-to-end / generation-only: {e2e_rate / base_rate:.3f} "
        f"(verdict {report.verdict}; "
        f"all checks {'ok' if all(report.checks.values()) else 'FAILED'})"
    )


if __name__ == "__main__":
    main()
