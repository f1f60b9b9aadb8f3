"""``python -m bms_core generate``: write generated events as JSON lines, in emission order.

One event per line (bookings and payments interleaved by event time, duplicates and malformed
extras included as the scenario says). The scenario comes from ``BMS_*`` settings, then from
flags (``--seed``, ``--duplicate-rate`` ... one per scenario field). With ``--seed`` and
``--start`` fixed the output is byte-identical run to run. A progress bar goes to stderr when
stderr is a terminal (or with ``--progress``); a summary always ends the run on stderr.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from typing import IO, TYPE_CHECKING, Final

if TYPE_CHECKING:
    from bms_core.traffic.orderplan import PlanRow
    from bms_core.traffic.scenario import Scenario
    from bms_core.traffic.segments import Segment, SegmentOutput

HELP: Final = (
    "write generated bookings and payments as JSON lines (deterministic with --seed/--start)"
)
_CHUNK: Final = 2048
_BAR_WIDTH: Final = 30
_SEGMENT_ORDERS: Final = 250_000
"""Orders per parallel segment: each also replays 30 minutes of earlier orders' timing."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from bms_core.traffic.scenario import FIELDS, env_name

    parser.add_argument("--orders", type=int, required=True, help="number of orders (>= 1)")
    parser.add_argument(
        "--start",
        help="ISO-8601 time of the first booking slot (default: now, floored to the slot)",
    )
    parser.add_argument("--out", default="-", help="output file, or - for stdout (default)")
    parser.add_argument(
        "--progress", action="store_true", help="show the progress bar even when not a TTY"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes generating in parallel (default 1); output is byte-identical",
    )
    knobs = parser.add_argument_group("scenario (defaults from BMS_* settings)")
    for field in FIELDS:
        knobs.add_argument(
            "--" + field.replace("_", "-"),
            dest=f"scenario_{field}",
            metavar="VALUE",
            help=f"overrides {env_name(field)}",
        )


def scenario_from(args: argparse.Namespace) -> Scenario:
    """``BMS_*`` settings, then flags; errors name the flag or setting at fault."""
    from bms_core.traffic.scenario import FIELDS, ScenarioError, load_scenario

    base = load_scenario()
    overrides = {
        f: getattr(args, f"scenario_{f}")
        for f in FIELDS
        if getattr(args, f"scenario_{f}", None) is not None
    }
    try:
        return base.with_overrides(overrides)
    except ScenarioError as exc:
        flag = "--" + exc.setting.replace("_", "-")
        raise ScenarioError(flag, str(exc).split(": ", 1)[1]) from None


class Progress:
    """A one-line bar on stderr, redrawn at most ten times a second."""

    def __init__(self, total: int, stream: IO[str], enabled: bool) -> None:
        self.total = total
        self.stream = stream
        self.enabled = enabled
        self.started = time.monotonic()
        self.drawn = 0.0

    def update(self, done: int, *, final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not final and now - self.drawn < 0.1:
            return
        self.drawn = now
        share = done / self.total if self.total else 1.0
        filled = int(share * _BAR_WIDTH)
        rate = done / max(now - self.started, 1e-9)
        bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
        end = "\n" if final else ""
        self.stream.write(f"\r[{bar}] {share:6.1%} {done}/{self.total} orders {rate:,.0f}/s{end}")
        self.stream.flush()


def _counted(plans: Iterator[PlanRow], outcomes: Counter[str]) -> Iterator[PlanRow]:
    from operator import itemgetter

    from bms_core.traffic.generator import OUTCOMES
    from bms_core.traffic.orderplan import OUTCOME_FIELD

    outcome_of = itemgetter(OUTCOME_FIELD)
    for plan in plans:
        outcomes[OUTCOMES[outcome_of(plan)]] += 1
        yield plan


def _write_serial(
    scenario: Scenario,
    start_ms: int,
    args: argparse.Namespace,
    out: IO[bytes],
    progress: Progress,
    outcomes: Counter[str],
    kinds: Counter[str],
) -> tuple[int, int]:
    """Write the stream from this process; ``(bytes written, last event ms)``."""
    from bms_core.traffic.catalog import catalog
    from bms_core.traffic.emission import stream_plans
    from bms_core.traffic.generator import plans_from

    plans = _counted(plans_from(scenario, start_ms, args.orders), outcomes)
    chunk: list[bytes] = []
    last_ms = start_ms
    written = 0
    for event in stream_plans(scenario, catalog(scenario), plans):
        chunk.append(event.body)
        kinds["malformed" if event.event_id is None else event.kind] += 1
        last_ms = event.due_ms
        if len(chunk) >= _CHUNK:
            data = b"\n".join(chunk) + b"\n"
            out.write(data)
            written += len(data)
            chunk.clear()
            progress.update(outcomes.total())
    if chunk:
        data = b"\n".join(chunk) + b"\n"
        out.write(data)
        written += len(data)
    return written, last_ms


def _segment_job(job: tuple[Scenario, int, Segment]) -> SegmentOutput:
    from bms_core.traffic.segments import segment_bytes

    return segment_bytes(*job)


def _write_parallel(
    scenario: Scenario,
    start_ms: int,
    args: argparse.Namespace,
    out: IO[bytes],
    progress: Progress,
    outcomes: Counter[str],
    kinds: Counter[str],
) -> tuple[int, int]:
    """Write the stream from ``args.workers`` processes, segment by segment, in order.

    Segments are cut at slot starts (see :mod:`bms_core.traffic.segments`), so the bytes equal the
    serial path's.
    """
    import multiprocessing

    from bms_core.traffic.catalog import catalog
    from bms_core.traffic.generator import OUTCOMES
    from bms_core.traffic.pools import pools
    from bms_core.traffic.segments import split, stream_spans

    pools()
    catalog(scenario)  # built once here; forked workers inherit them
    parts = max(args.workers, -(-args.orders // _SEGMENT_ORDERS))
    segments = split(scenario, stream_spans(scenario, start_ms, args.orders), parts)
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    written = 0
    last_ms = start_ms
    with context.Pool(args.workers) as pool:
        jobs = [(scenario, start_ms, segment) for segment in segments]
        for result in pool.imap(_segment_job, jobs):
            out.write(result.data)
            written += len(result.data)
            kinds.update(result.kinds)
            for name, count in zip(OUTCOMES, result.outcomes, strict=True):
                outcomes[name] += count
            if result.last_ms is not None:
                last_ms = result.last_ms
            progress.update(outcomes.total())
    return written, last_ms


def run(args: argparse.Namespace) -> int:
    from bms_core.timefmt import format_ms, parse_iso
    from bms_core.traffic.generator import OUTCOMES, slot_at, slot_bounds
    from bms_core.traffic.scenario import ScenarioError

    if args.orders < 1:
        print("error: --orders must be an integer >= 1", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("error: --workers must be an integer >= 1", file=sys.stderr)
        return 2
    try:
        scenario = scenario_from(args)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if scenario.orders_per_minute == 0:
        print("error: orders_per_minute is 0, so there are no orders to write", file=sys.stderr)
        return 2
    if args.start is None:
        start_ms = slot_bounds(scenario, slot_at(scenario, int(time.time() * 1000)))[0]
    else:
        try:
            start_ms = parse_iso(args.start)
        except ValueError as exc:
            print(f"error: --start: {exc}", file=sys.stderr)
            return 2
    progress = Progress(args.orders, sys.stderr, args.progress or sys.stderr.isatty())
    outcomes: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    began = time.perf_counter()
    with ExitStack() as stack:
        if args.out == "-":
            out = sys.stdout.buffer
        else:
            try:
                out = stack.enter_context(open(args.out, "wb"))
            except OSError as exc:
                print(f"error: --out: {exc}", file=sys.stderr)
                return 2
        gc_was_enabled = gc.isenabled()
        gc.disable()  # generation makes no reference cycles; collection only costs time here
        try:
            if args.workers > 1:
                written, last_ms = _write_parallel(
                    scenario, start_ms, args, out, progress, outcomes, kinds
                )
            else:
                written, last_ms = _write_serial(
                    scenario, start_ms, args, out, progress, outcomes, kinds
                )
            out.flush()
        finally:
            if gc_was_enabled:
                gc.enable()
    progress.update(outcomes.total(), final=True)
    elapsed = time.perf_counter() - began
    events = sum(kinds.values())
    by_outcome = ", ".join(f"{name} {outcomes[name]}" for name in OUTCOMES)
    print(
        f"orders {outcomes.total()} ({by_outcome})\n"
        f"events {events} (bookings {kinds['booking']}, payments {kinds['payment']}, "
        f"malformed {kinds['malformed']}; duplicates included)\n"
        f"bytes {written}; event times {format_ms(start_ms)} .. {format_ms(last_ms)}; "
        f"seed {scenario.seed}; {elapsed:.2f} s, {events / max(elapsed, 1e-9):,.0f} events/s",
        file=sys.stderr,
    )
    return 0
