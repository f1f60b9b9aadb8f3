"""The local pipeline end to end: simulated hours per wall-clock minute and events per second.

Runs ``python -m bms_local demo`` in-process for ``--minutes`` simulated minutes, then, as the
baseline in the same run, generates the very same events (the same timer windows through the
same handlers' generator calls, into memory: no AMQP, no Azurite, no job). The ratio says what
carrying the events through the real SDKs, the emulator, the stream job, the warehouse, the
joined hub and the validator costs over merely producing them.

    .venv/bin/python -m bench.demo [--minutes 60] [--orders-per-minute N]
"""

from __future__ import annotations

import argparse
import time

from bms_core import generator
from bms_core.scenario import load_scenario
from bms_local.demo import DRAIN_MS, PEAK_HOUR_START_MS, TICK_MS, DemoOptions, run_demo


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
                events += len(generator.emit_bookings(scenario, slot))
        events += len(generator.emit_payments(scenario, previous, tick))
        previous = tick
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--orders-per-minute", type=float, default=None)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    start_ms = PEAK_HOUR_START_MS
    report = run_demo(
        DemoOptions(
            minutes=args.minutes,
            orders_per_minute=args.orders_per_minute,
            seed=args.seed,
            start_ms=start_ms,
            burst_orders=0,
            progress=False,
        ),
        log=lambda _line: None,
    )
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
        f"(verdict {report.verdict}; all checks {'ok' if all(report.checks.values()) else 'FAILED'})"
    )


if __name__ == "__main__":
    main()
