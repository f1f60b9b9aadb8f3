"""Generator throughput: events/s generated and encoded on one process, against a baseline.

The baseline does what the original demo scripts did per event: call Faker (``en_IN``) for a
name, an email and an address, then ``json.dumps`` the event. Ours streams whole orders
(bookings, payment attempts, duplicates) exactly as ``python -m bms_core generate`` does,
with the Faker pools already built (their one-off cost is printed separately). Both are timed in
this process, in this run (alternating, best of ``--repeat`` each), so the ratio is fair on any
machine.

    .venv/bin/python -m bench.generator [--orders 50000] [--baseline-events 3000] [--repeat 3]
        [--workers 2]

The floor is what writing the same bytes costs with nothing else: each event's body joined back
from ready-made field texts and wrapped, no planning, drawing or ordering. Its ratio to the
baseline is the most any generator that builds events one by one in CPython can reach here.

The parallel figure cuts the stream into segments (``generate --workers``); it includes pool
start-up and each segment's 30-minute payment look-back.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time

TARGET_EVENTS_PER_S = 150_000
TARGET_RATIO = 100.0


def baseline(events: int) -> tuple[float, int]:
    """``(events/s, bytes)`` of the seed-style generator: Faker per event plus ``json.dumps``."""
    from faker import Faker

    fake = Faker("en_IN")
    fake.seed_instance(1)
    rng = random.Random(1)
    started = time.perf_counter()
    size = 0
    for i in range(events):
        event = {
            "order_id": f"ORD{i:08d}",
            "booking_time": "2026-11-29T18:30:05.123Z",
            "customer": {
                "customer_id": i,
                "name": fake.name(),
                "email": fake.email(),
                "address": fake.address(),
            },
            "event_details": {"event_name": "Show", "seats": rng.randint(1, 10)},
            "amount": round(rng.uniform(100, 5000), 2),
        }
        size += len(json.dumps(event).encode())
    return events / (time.perf_counter() - started), size


def ours(orders: int, start_ms: int) -> tuple[float, int, int]:
    """``(events/s, events, bytes)`` for streaming ``orders`` orders, as the CLI does."""
    from bms_core.traffic.generator import stream
    from bms_core.traffic.scenario import Scenario

    scenario = Scenario()
    events = size = 0
    gc.disable()
    try:
        started = time.perf_counter()
        for event in stream(scenario, start_ms, orders):
            events += 1
            size += len(event.body)
        elapsed = time.perf_counter() - started
    finally:
        gc.enable()
    return events / elapsed, events, size


def assembly_floor(orders: int, start_ms: int) -> float:
    """Events/s of only writing the same events from ready-made texts: each body is joined back
    from its field texts (cut at ``,"``, ~21 per event) and encoded, and wrapped in an
    ``Emitted``, as a generator must at least do per event; no planning, drawing or ordering.
    Events are made and cut untimed. No per-event CPython generator of these bytes beats this.
    """
    from bms_core.traffic.generator import Emitted, stream
    from bms_core.traffic.scenario import Scenario

    cut = [
        (e.kind, e.partition_key, e.body.decode().split(',"'), e.due_ms, e.event_id)
        for e in stream(Scenario(), start_ms, orders)
    ]
    new = tuple.__new__
    gc.disable()
    try:
        started = time.perf_counter()
        out = [new(Emitted, (k, key, ',"'.join(p).encode(), due, i)) for k, key, p, due, i in cut]
        elapsed = time.perf_counter() - started
    finally:
        gc.enable()
    return len(out) / elapsed


def _segment(job: tuple[object, int, object]) -> tuple[int, int]:
    from bms_core.traffic.segments import segment_bytes

    out = segment_bytes(*job)  # type: ignore[arg-type]
    return sum(out.kinds.values()), len(out.data)


def ours_parallel(orders: int, start_ms: int, workers: int) -> tuple[float, int, int]:
    """``(events/s, events, bytes)`` for the same stream cut into segments over processes."""
    import multiprocessing

    from bms_core.traffic.scenario import Scenario
    from bms_core.traffic.segments import split, stream_spans

    scenario = Scenario()
    gc.disable()
    try:
        started = time.perf_counter()
        segments = split(scenario, stream_spans(scenario, start_ms, orders), workers)
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            parts = pool.map(_segment, [(scenario, start_ms, s) for s in segments])
        elapsed = time.perf_counter() - started
    finally:
        gc.enable()
    events = sum(p[0] for p in parts)
    return events / elapsed, events, sum(p[1] for p in parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--baseline-events", type=int, default=3_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="processes for the parallel figure")
    args = parser.parse_args()

    from bms_core.timefmt import parse_iso
    from bms_core.traffic.catalog import catalog
    from bms_core.traffic.pools import pools
    from bms_core.traffic.scenario import Scenario

    started = time.perf_counter()
    pools()
    catalog(Scenario())
    setup_ms = (time.perf_counter() - started) * 1000
    start_ms = parse_iso("2026-11-27T13:00:00Z")
    ours(1_000, start_ms)  # warm the per-second and per-customer caches' code paths

    # Baseline and ours alternate, so a burst of load on the shared machine hits both sides of
    # a pair; the figures are the best of each, the pair ratios show the spread.
    bases: list[tuple[float, int]] = []
    results: list[tuple[float, int, int]] = []
    floors: list[float] = []
    for i in range(args.repeat):
        bases.append(baseline(args.baseline_events))
        results.append(ours(args.orders, start_ms + i * 86_400_000))
        floors.append(assembly_floor(args.orders, start_ms + i * 86_400_000))
    base, base_size = max(bases)
    rate, events, size = max(results)
    ratio = rate / base
    pairs = sorted(r[0] / b[0] for b, r in zip(bases, results, strict=True))
    print(f"pools + catalog, built once per process: {setup_ms:,.0f} ms (includes importing Faker)")
    print(
        f"baseline (Faker per event + json.dumps): {base:,.0f} events/s, "
        f"{base_size / args.baseline_events:,.0f} B avg, "
        f"{base * base_size / args.baseline_events / 1e6:,.1f} MB/s"
    )
    print(
        f"bms_core stream ({args.orders:,} orders -> {events:,} events, {size / events:,.0f} B "
        f"avg): {rate:,.0f} events/s, {rate * size / events / 1e6:,.1f} MB/s"
    )
    if args.workers > 1:
        par = [
            ours_parallel(args.orders, start_ms + i * 86_400_000, args.workers)
            for i in range(args.repeat)
        ]
        prate = max(par)[0]
        print(
            f"bms_core stream, {args.workers} processes (generate --workers): "
            f"{prate:,.0f} events/s, {prate / base:,.1f}x the baseline"
        )
    byte_ratio = (rate * size / events) / (base * base_size / args.baseline_events)
    print(f"ratio: {ratio:,.1f}x the baseline in events/s ({byte_ratio:,.1f}x in bytes/s)")
    print(f"ratio per alternating pair: {', '.join(f'{p:,.1f}x' for p in pairs)}")
    floor = max(floors)
    print(
        f"floor (only joining each event's ready-made field texts, encoding, wrapping): "
        f"{floor:,.0f} events/s = {floor / base:,.1f}x the baseline; ours is "
        f"{rate / floor:.2f} of it"
    )
    print(
        f"targets: >= {TARGET_EVENTS_PER_S:,} events/s "
        f"{'met' if rate >= TARGET_EVENTS_PER_S else 'NOT met'}; "
        f">= {TARGET_RATIO:.0f}x {'met' if ratio >= TARGET_RATIO else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
