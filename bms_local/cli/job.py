"""``python -m bms_local job``: run the reference stream job on files or Event Hubs."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from bms_local.stream_job import JoinedPair, OrderingPolicy, StreamJob

HELP = (
    "Run the reference implementation of asa/bms_join.asaql on JSON(L) event files or Event "
    "Hubs, writing joined seat rows as JSON lines; or regenerate asa/Test."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_argument_group("input (files, or --eventhubs)")
    source.add_argument("--bookings", type=Path, help="bookings: JSON lines or a JSON array")
    source.add_argument("--payments", type=Path, help="payments: JSON lines or a JSON array")
    source.add_argument(
        "--eventhubs",
        metavar="CONNECTION_STRING",
        help="consume the bookings and payments hubs instead (until Ctrl-C)",
    )
    source.add_argument("--consumer-group", default="asa", help="Event Hubs consumer group")
    out = parser.add_argument_group("output")
    out.add_argument("--out", type=Path, help="seat rows as JSON lines (default: stdout)")
    out.add_argument("--orders-out", type=Path, help="order rows as JSON lines")
    out.add_argument("--warehouse", type=Path, help="also insert both rows into this SQLite file")
    policy = parser.add_argument_group("ordering policy (asa/JobConfig.json defaults)")
    defaults = OrderingPolicy()
    policy.add_argument("--late-arrival-s", type=int, default=defaults.late_arrival_s)
    policy.add_argument("--out-of-order-s", type=int, default=defaults.out_of_order_s)
    policy.add_argument("--drop", action="store_true", help="Drop instead of Adjust")
    parser.add_argument(
        "--regenerate-asa-tests",
        action="store_true",
        help="rewrite asa/Test (inputs, expected outputs, testConfig.json) and exit",
    )


def _regenerate() -> int:
    from bms_local.stream_job import asa_cases

    changed = asa_cases.regenerate()
    for path in changed:
        print(f"wrote {path}")
    print(f"{len(changed)} files changed under {asa_cases.TEST_DIR}")
    return 0


def _open_out(stack: ExitStack, path: Path) -> IO[bytes]:
    return stack.enter_context(open(path, "wb"))


class _Writer:
    """Writes each pair's rows where asked, as JSON lines; counts them."""

    def __init__(self, stack: ExitStack, args: argparse.Namespace) -> None:
        import msgspec

        self._lines = msgspec.json.Encoder().encode_lines
        self.seats: IO[bytes] = _open_out(stack, args.out) if args.out else sys.stdout.buffer
        self.orders: IO[bytes] | None = (
            _open_out(stack, args.orders_out) if args.orders_out else None
        )
        self.warehouse: Any = None
        if args.warehouse:
            from bms_local.warehouse import Warehouse

            self.warehouse = Warehouse(args.warehouse)
            stack.callback(self.warehouse.close)
        self.seat_rows = 0
        self.order_rows = 0

    def __call__(self, pair: JoinedPair) -> None:
        if self.orders is None and self.warehouse is None:
            seats = pair.seat_rows()
        else:
            seats, order = pair.rows()
            if self.orders is not None:
                self.orders.write(self._lines([order]))
            if self.warehouse is not None:
                self.warehouse.insert_seat_rows(seats)
                self.warehouse.insert_order_rows([order])
        self.seats.write(self._lines(seats))
        self.seat_rows += len(seats)
        self.order_rows += 1


def run(args: argparse.Namespace) -> int:
    if args.regenerate_asa_tests:
        return _regenerate()
    if args.eventhubs is None and (args.bookings is None or args.payments is None):
        print("job: give --bookings FILE and --payments FILE, or --eventhubs", file=sys.stderr)
        return 2
    for name in ("bookings", "payments"):
        path = getattr(args, name)
        if path is not None and not path.is_file():
            print(f"job: --{name} {path}: no such file", file=sys.stderr)
            return 2
    policy = OrderingPolicy(args.late_arrival_s, args.out_of_order_s, adjust=not args.drop)
    job = StreamJob(policy)
    with ExitStack() as stack:
        write = _Writer(stack, args)
        if args.eventhubs:
            from bms_local.stream_job.sources import run_eventhubs

            stop = threading.Event()
            signal.signal(signal.SIGINT, lambda *_: stop.set())
            run_eventhubs(job, args.eventhubs, write, consumer_group=args.consumer_group, stop=stop)
            job.flush()
        else:
            from bms_local.stream_job.sources import run_files

            for pair in run_files(job, args.bookings, args.payments):
                write(pair)
        write.seats.flush()  # stdout's bytes, before the summary on stderr
    summary = {"seat_rows": write.seat_rows, "order_rows": write.order_rows, **job.summary()}
    print(json.dumps(summary, indent=2), file=sys.stderr)
    for reject in job.rejects:
        print(f"rejected {reject.kind} ({reject.cause}): {reject.body}", file=sys.stderr)
    return 0
