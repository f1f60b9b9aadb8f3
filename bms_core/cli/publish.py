"""``python -m bms_core publish``: stream generated bookings and payments to Event Hubs.

Real time by default (each event sent at its event time); ``--backfill`` or a past ``--start``
sends the past at once (see :mod:`bms_core.publisher` for what ASA's late-arrival and
out-of-order tolerances then do to event times). Prints the accounting at the end and exits 1 if
any event failed. SIGTERM or Ctrl-C stop gracefully: buffered events are still sent.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bms_core.scenario import Scenario

HELP = (
    "Publish generated bookings and payments to Event Hubs on their real-time schedule "
    "(or backfill), in keyless batches as the Function App sends them (or keyed by order_id "
    "with --keyed), with exact accounting."
)
EVENTS_PER_ORDER_SAMPLE = 400


def add_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--connection-string", help="Event Hubs connection string (namespace level)"
    )
    target.add_argument(
        "--namespace",
        help="fully qualified namespace for DefaultAzureCredential (needs azure-identity)",
    )
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument(
        "--rate",
        type=float,
        help="long-run average events per second, continuous until stopped (scales "
        "orders_per_minute; payments trail their bookings, so the first minute runs below it)",
    )
    amount.add_argument("--orders", type=int, help="publish the first N orders, then stop")
    parser.add_argument("--seed", type=int, help="scenario seed (default BMS_SEED or 1)")
    when = parser.add_mutually_exclusive_group()
    when.add_argument(
        "--start", help="first booking time, ISO-8601 UTC (default now); past = backfill"
    )
    when.add_argument(
        "--backfill",
        action="store_true",
        help="start early enough that --orders N are (mostly) due at once: as fast as possible",
    )
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--max-retries", type=int, default=5, help="retries per batch (default 5)")
    parser.add_argument(
        "--keyed",
        action="store_true",
        help="send each event with partition key order_id, to the partition the service hashes "
        "it to (default: keyless batches, each placed whole on one partition, like the app)",
    )


def _events_per_order(scenario: Scenario, start_ms: int) -> float:
    from bms_core.generator import stream

    sample = len(list(stream(scenario, start_ms, EVENTS_PER_ORDER_SAMPLE)))
    return sample / EVENTS_PER_ORDER_SAMPLE


def run(args: argparse.Namespace) -> int:
    from bms_core.generator import MAX_PAYMENT_DELAY_MS, stream
    from bms_core.publisher import Publisher, PublishOptions, sdk_producers
    from bms_core.scenario import ScenarioError, load_scenario
    from bms_core.timefmt import parse_iso

    now_ms = time.time_ns() // 1_000_000
    try:
        scenario = load_scenario()
        if args.seed is not None:
            scenario = scenario.with_overrides({"seed": args.seed})
        if args.orders is not None and args.orders < 1:
            raise ScenarioError("--orders", "must be at least 1")
        if args.rate is not None:
            if args.rate <= 0:
                raise ScenarioError("--rate", "must be positive")
            per_minute = args.rate * 60 / _events_per_order(scenario, now_ms)
            scenario = scenario.with_overrides({"orders_per_minute": per_minute})
        start_ms = now_ms
        if args.start:
            start_ms = parse_iso(args.start)
        elif args.backfill:
            orders = args.orders or 1000
            span_ms = int(orders / max(scenario.orders_per_minute, 1e-9) * 60_000)
            start_ms = now_ms - span_ms - MAX_PAYMENT_DELAY_MS
    except (ScenarioError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    orders = args.orders if args.orders is not None else 2**62
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.duration is not None:
        timer = threading.Timer(args.duration, stop.set)
        timer.daemon = True
        timer.start()
    publisher = Publisher(
        sdk_producers(args.connection_string, args.namespace),
        PublishOptions(max_retries=args.max_retries, keyed=args.keyed),
        stop=stop,
    )
    report = publisher.run(stream(scenario, start_ms, orders))
    print(report.summary())
    return 0 if not report.failed and report.unaccounted == 0 else 1
