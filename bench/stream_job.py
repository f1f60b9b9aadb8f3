"""Reference stream job: events/s on one core against plain decoding, the file CLI's events/s
for the whole process, and memory from 100k to 1M orders.

Throughput: events come from the deterministic generator (``bms_core.generator.stream``:
bookings, payment attempts, duplicates), in chunks of 50,000. Each event gets what Event Hubs
hands the job: its body, its enqueued time (its event time here) and a partition; as the
producers send keyless batches, every run of ``KEYLESS_BATCH`` events of one kind lands on one
partition and the next run on the next. Timed on each chunk, taking turns to go first (whoever
goes first finds the bodies freshly made in the cache):

* plain decoding: ``msgspec.json.decode`` of each body, the floor any Python consumer pays;
* the job fed batches of 4,096 arrivals (what the Event Hubs source hands it at most);
* the job fed one event at a time.

Rates are events per CPU second of this process (``time.process_time``: on a shared machine
that leaves out time other work took the core). Both jobs must return the same pairs and
counts. The file CLI is timed as a user runs it: ``python -m bms_core generate`` writes the
orders, they are split into a bookings and a payments file, and ``python -m bms_local job
--bookings ... --payments ... --out rows.jsonl`` runs in a subprocess: events over its wall
time, every joined row written.

Memory: fresh subprocesses per size stream N orders through the job at a constant rate (the
scenario's hourly and weekday shapes flattened, so state is proportional to the rate times the
window) and report resident memory and the most events ever held; a control subprocess runs
the same generation without the job, and the difference is the job's own memory.

    .venv/bin/python -m bench.stream_job [--orders 1000000] [--cli-orders 150000]
        [--memory-orders 100000 1000000]

``--orders 0``, ``--cli-orders 0`` or an empty ``--memory-orders`` skips that part.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

FLOOR_EVENTS_PER_S = 100_000
CLI_FLOOR_EVENTS_PER_S = 30_000
START_MS = 1_795_946_400_000  # 2026-11-29T10:00:00Z
START = "2026-11-29T10:00:00Z"
CHUNK = 50_000
KEYLESS_BATCH = 100
"""Events of one kind that land together on one partition (one keyless batch)."""


def _chunks(orders: int) -> Iterator[list[Any]]:
    """Arrivals as the hubs deliver them, ``CHUNK`` at a time."""
    from bms_core.generator import stream
    from bms_core.names import PARTITION_COUNT
    from bms_core.scenario import Scenario
    from bms_local.stream_job import Arrival

    sent = {"booking": 0, "payment": 0}
    events = stream(Scenario(), START_MS, orders)
    while chunk := list(islice(events, CHUNK)):
        arrivals = []
        for e in chunk:
            partition = sent[e.kind] // KEYLESS_BATCH % PARTITION_COUNT
            sent[e.kind] += 1
            arrivals.append(Arrival(e.kind, e.body, e.due_ms, partition))
        yield arrivals


def throughput(orders: int, batch: int) -> dict[str, Any]:
    """CPU seconds of plain decoding and of both jobs over the same arrivals."""
    import msgspec

    from bms_local.stream_job import StreamJob

    decode = msgspec.json.decode
    batched, one_by_one = StreamJob(), StreamJob()
    pairs = {"batches": 0, "one by one": 0}
    events = 0

    def run_decode(arrivals: list[Any]) -> None:
        for arrival in arrivals:
            decode(arrival.body)

    def run_batches(arrivals: list[Any]) -> None:
        for start in range(0, len(arrivals), batch):
            pairs["batches"] += len(batched.feed_all(arrivals[start : start + batch]))

    def run_one_by_one(arrivals: list[Any]) -> None:
        feed = one_by_one.feed
        found = 0
        for arrival in arrivals:
            found += len(feed(arrival))
        pairs["one by one"] += found

    runs = [("decode", run_decode), ("batches", run_batches), ("one by one", run_one_by_one)]
    cpu = dict.fromkeys([name for name, _ in runs], 0.0)
    gc.disable()
    try:
        for number, arrivals in enumerate(_chunks(orders)):
            turn = number % len(runs)
            for name, run in runs[turn:] + runs[:turn]:
                started = time.process_time()
                run(arrivals)
                cpu[name] += time.process_time() - started
            events += len(arrivals)
            gc.collect()
    finally:
        gc.enable()
    batched.flush()
    one_by_one.flush()
    if batched.counts != one_by_one.counts or pairs["batches"] != pairs["one by one"]:
        raise RuntimeError("the job fed one by one joined or counted differently")
    return {
        "orders": orders,
        "events": events,
        "pairs": pairs["batches"],
        "rates": {name: events / seconds for name, seconds in cpu.items()},
        "unmatched": batched.summary().get("unmatched", {}),
    }


def file_cli(orders: int) -> dict[str, float]:
    """The file CLI over ``orders`` generated orders, timed as a whole process."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        generate = [sys.executable, "-m", "bms_core", "generate", "--orders", str(orders)]
        generate += ["--start", START, "--out", str(folder / "all.jsonl")]
        subprocess.run(generate, check=True, capture_output=True)
        events = 0
        with (
            open(folder / "all.jsonl", "rb") as everything,
            open(folder / "b.jsonl", "wb") as bookings,
            open(folder / "p.jsonl", "wb") as payments,
        ):
            for line in everything:
                (bookings if line.startswith(b'{"kind":"booking"') else payments).write(line)
                events += 1
        job = [sys.executable, "-m", "bms_local", "job", "--bookings", str(folder / "b.jsonl")]
        job += ["--payments", str(folder / "p.jsonl"), "--out", str(folder / "rows.jsonl")]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(job, check=True, capture_output=True)
        wall_s = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        with open(folder / "rows.jsonl", "rb") as rows:
            written = sum(1 for _ in rows)
    cpu_s = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {
        "events": events,
        "rows": written,
        "wall_s": wall_s,
        "events_per_s": events / wall_s,
        "events_per_cpu_s": events / cpu_s,
    }


def _rss_kb() -> int:
    """Current resident set size (Linux ``/proc``; elsewhere the peak so far)."""
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
        return pages * resource.getpagesize() // 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def memory_run(orders: int, with_job: bool = True) -> dict[str, int]:
    """Stream ``orders`` orders (through a job, or not: the control run) and report resident
    memory while streaming and the most events ever held. The first event is pulled before
    measuring, so the generator's one-off setup is in the starting figure."""
    from bms_core.generator import stream
    from bms_core.scenario import Scenario
    from bms_local.stream_job import StreamJob
    from bms_local.stream_job.sources import from_emitted

    job = StreamJob()
    flat = Scenario(hourly_shape=(1.0,) * 24, weekday_shape=(1.0,) * 7)
    arrivals = from_emitted(stream(flat, START_MS, orders))
    first = next(arrivals)
    if with_job:
        job.feed(first)
    start_kb = high_kb = _rss_kb()
    most = 0
    while chunk := list(islice(arrivals, 5_000)):
        if with_job:
            job.feed_all(chunk)
        most = max(most, job.held_events)
        high_kb = max(high_kb, _rss_kb())
    return {"orders": orders, "start_rss_kb": start_kb, "high_rss_kb": high_kb, "held": most}


def _measure(orders: int, with_job: bool) -> dict[str, int]:
    command = [sys.executable, "-m", "bench.stream_job", "--memory-run", str(orders)]
    if not with_job:
        command.append("--control")
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, int] = json.loads(out.stdout)
    return result


def _print_throughput(result: dict[str, Any], batch: int) -> None:
    rates = result["rates"]
    decode = rates["decode"]
    print(
        f"orders joined:           {result['orders']:,} ({result['events']:,} events, "
        f"{result['pairs']:,} pairs); unmatched at end {result['unmatched']}"
    )
    print(f"plain decoding:          {decode:,.0f} events per CPU second")
    for name in ("batches", "one by one"):
        label = f"job, {name}" + (f" of {batch:,}" if name == "batches" else "")
        met = "met" if rates[name] >= FLOOR_EVENTS_PER_S else "NOT met"
        print(
            f"{label + ':':<25}{rates[name]:,.0f} events per CPU second "
            f"(ratio to plain decoding {rates[name] / decode:.2f}; floor "
            f"{FLOOR_EVENTS_PER_S:,}: {met})"
        )


def main(argv: list[str] | None = None) -> int:
    from bms_local.stream_job.sources import LIVE_BATCH

    parser = argparse.ArgumentParser(prog="python -m bench.stream_job", description=__doc__)
    parser.add_argument(
        "--orders", type=int, default=1_000_000, help="for the throughput run (0: skip it)"
    )
    parser.add_argument("--batch", type=int, default=LIVE_BATCH, help="arrivals per feed_all")
    parser.add_argument("--cli-orders", type=int, default=150_000, help="0: skip the file CLI")
    parser.add_argument("--memory-orders", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--memory-run", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--control", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.batch < 1:
        parser.error(f"--batch must be at least 1, got {args.batch}")
    if args.memory_run:
        print(json.dumps(memory_run(args.memory_run, with_job=not args.control)))
        return 0
    if args.orders:
        _print_throughput(throughput(args.orders, args.batch), args.batch)
    if args.cli_orders:
        cli = file_cli(args.cli_orders)
        met = "met" if cli["events_per_s"] >= CLI_FLOOR_EVENTS_PER_S else "NOT met"
        print(
            f"file CLI, whole process: {cli['events_per_s']:,.0f} events/s wall "
            f"({cli['events']:,} events of {args.cli_orders:,} orders, {cli['rows']:,} seat rows "
            f"written, {cli['wall_s']:.1f} s; {cli['events_per_cpu_s']:,.0f} per CPU second; "
            f"floor {CLI_FLOOR_EVENTS_PER_S:,}: {met})"
        )
    own_mib = []
    for orders in args.memory_orders:
        with_job, control = _measure(orders, True), _measure(orders, False)
        own = (with_job["high_rss_kb"] - control["high_rss_kb"]) / 1024
        own_mib.append(own)
        print(
            f"memory, {orders:>9,} orders: {with_job['high_rss_kb'] / 1024:6.1f} MiB RSS with "
            f"the job, {control['high_rss_kb'] / 1024:6.1f} MiB generating only -> job "
            f"{own:5.1f} MiB; at most {with_job['held']:,} events held"
        )
    if len(own_mib) >= 2 and own_mib[0] > 0:
        scale = args.memory_orders[-1] / args.memory_orders[0]
        print(f"job memory for {scale:.0f}x the orders: {own_mib[-1] / own_mib[0]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
