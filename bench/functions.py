"""Cost of the busiest invocations: emit_bookings filling its output with 1,000 bookings,
validate_joined on a 1,000-row batch at 100% sampling. No network.

Baselines measured in the same run: the generator alone for the same slot (so the ratio is what
the handler adds: bodies for the output, accounting, logging) and ``json.loads`` of the same
batch's rows (so the ratio is what checking costs over merely reading the rows).
``bench.emit_bindings`` compares ticks of 1,000 and 10,000 with the SDK path too.

    .venv/bin/python -m bench.functions [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import azure.functions as func
from azure.functions.timer import TimerRequest

from bms_core import contract, generator, projection, timefmt, validator
from bms_core.emit import run_emit_bookings
from bms_core.settings import Settings
from bms_local.host import Out

NOW = 1_795_000_003_000
TARGET_BOOKINGS = 1000
TARGET_ROWS = 1000


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


def settings_for_a_thousand_bookings() -> tuple[Settings, int]:
    """Settings whose last closed slot before NOW holds about 1,000 orders."""
    probe = Settings.from_env({"BMS_ORDERS_PER_MINUTE": "6000", "BMS_DUPLICATE_RATE": "0"})
    slot = generator.slot_at(probe.scenario, NOW) - 1
    count = generator.slot_order_count(probe.scenario, slot)
    rate = 6000 * TARGET_BOOKINGS / max(count, 1)
    settings = Settings.from_env(
        {"BMS_ORDERS_PER_MINUTE": f"{rate:.3f}", "BMS_DUPLICATE_RATE": "0"}
    )
    return settings, slot


def bench_emit(repeat: int) -> None:
    settings, slot = settings_for_a_thousand_bookings()
    timer = TimerRequest(past_due=False, schedule_status={})
    t0 = time.perf_counter()
    first = run_emit_bookings(timer, Out(), settings=settings, now_ms=NOW)
    cold_ms = (time.perf_counter() - t0) * 1000
    base_ms, _ = timed(lambda: generator.emit_bookings(settings.scenario, slot), repeat)
    run_ms, report = timed(
        lambda: run_emit_bookings(timer, Out(), settings=settings, now_ms=NOW), repeat
    )
    print(f"emit_bookings: one invocation outputting {report.events} bookings (slot {slot})")
    print(f"  first call in the process (builds Faker pools): {cold_ms:8.1f} ms")
    print(f"  generator alone (baseline):                     {base_ms:8.1f} ms")
    print(
        f"  handler invocation:                             {run_ms:8.1f} ms "
        f"= {run_ms * 1000 / report.events:.0f} us/booking; ratio {run_ms / base_ms:.2f}x"
    )
    assert first.events == report.events


def joined_batch(settings: Settings) -> list[bytes]:
    """About 1,000 seat rows of joined pairs, line-separated per pair as ASA packs them."""
    bodies: list[bytes] = []
    rows = 0
    slot = generator.slot_at(settings.scenario, NOW) - 200
    while rows < TARGET_ROWS:
        for order in generator.orders_in(settings.scenario, slot):
            booking = json.loads(contract.encode(order.booking))
            b_ms = timefmt.parse_ms(order.booking.booking_time)
            for payment in order.payments:
                p_ms = timefmt.parse_ms(payment.payment_time)
                if not projection.in_window(b_ms, p_ms) or rows >= TARGET_ROWS:
                    continue
                seat_rows = projection.seat_rows(
                    booking, json.loads(contract.encode(payment)), p_ms
                )
                rows += len(seat_rows)
                bodies.append("\n".join(json.dumps(r) for r in seat_rows).encode())
        slot += 1
    return bodies


def bench_validate(repeat: int) -> None:
    settings = Settings.from_env({"BMS_VALIDATION_SAMPLE_RATE": "1", "BMS_DUPLICATE_RATE": "0"})
    bodies = joined_batch(settings)
    events = [func.EventHubEvent(body=b) for b in bodies]

    def parse_only() -> int:
        return sum(len([json.loads(x) for x in b.splitlines()]) for b in bodies)

    def validate() -> Any:
        return validator.run_validate_joined(
            events, Out(), Out(), settings, manifests=lambda b, a: None, now_ms=NOW
        )

    base_ms, rows = timed(parse_only, repeat)
    run_ms, result = timed(validate, repeat)
    assert not result.findings, result.findings[:3]
    print(f"validate_joined: one batch of {len(events)} events, {rows} rows, 100% sampled")
    print(f"  json.loads of every row (baseline): {base_ms:8.1f} ms")
    print(
        f"  handler invocation:                 {run_ms:8.1f} ms "
        f"= {run_ms * 1000 / rows:.0f} us/row; ratio {run_ms / base_ms:.1f}x"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    bench_emit(args.repeat)
    bench_validate(args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
