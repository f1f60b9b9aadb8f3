"""``python -m bms_local demo``: the whole pipeline on one machine, on a simulated clock.

Every tick of the simulated clock (the timers' 10 s schedule) does what Azure would:

1. the real handlers of ``function_app.py`` run through :class:`bms_local.host.LocalHost`
   under a runtime whose clock is the simulated one: ``emit_bookings`` and ``emit_payments``
   (and, once, ``POST /api/burst``) set their Event Hubs outputs, which the local host sends as
   the Functions host does (keyless batches, real ``azure-eventhub`` SDK over AMQP) to the local
   Event Hubs emulator; burst manifests go to Azurite;
2. the reference stream job reads both hubs with the SDK (consumer group ``asa``), each event
   arriving at the tick it was sent, and joins them;
3. joined rows land in the SQLite warehouse built from ``sql/`` and, packed as ASA packs them,
   in the ``joined`` hub;
4. ``validate_joined`` gets the joined hub's events (consumer group ``validator``) and writes its
   findings and summaries to Azurite tables through its output bindings.

Bookings are emitted for ``--minutes``; payments keep coming for a drain period (the join
window plus a minute) so every payment that could join does. The report reconciles the counts
at every hop against what the generator says is true, and explains every order without a
joined successful payment.

The stages run as ``up`` runs them, each in its own process: the functions
(:mod:`bms_local.demo_functions`), the stream job with the warehouse (this process, which also
builds the report) and the validator (:mod:`bms_local.demo_validator`). Each stage tells the next
which bodies it sent at which tick and lags behind it by as many ticks as delivery takes.

By default the run simulates one fixed, named hour, :data:`PEAK_HOUR`, and is reproducible: each
stage takes a tick whole, with exactly that tick's events in their hub's order, and bursts are
named from the seed, so the same options give the same ``report.json`` on every run and machine
(apart from its wall-clock figures). ``--start now`` simulates the hour before the current one.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bms_core import names
from bms_core.money import to_paise
from bms_core.timefmt import format_ms, parse_iso
from bms_local.demo_truth import DRAIN_MINUTES
from bms_local.report import DemoReport

TICK_MS = 10_000
DRAIN_MS = DRAIN_MINUTES * 60_000
VALIDATOR_BATCH = 256
"""Events per validate_joined call: host.json's maxEventBatchSize."""

PEAK_HOUR = "Friday 19:00-20:00 IST"
PEAK_HOUR_START_MS = parse_iso("2026-12-04T13:30:00Z")
"""Friday 4 December 2026, 19:00 IST: the evening peak the demo simulates unless told otherwise."""


@dataclass
class DemoOptions:
    minutes: int = 60
    orders_per_minute: float | None = None
    seed: int = 1
    start_ms: int = PEAK_HOUR_START_MS
    burst_orders: int = 200
    sample_rate: float = 0.2
    duplicate_rate: float = 0.0
    malformed_rate: float = 0.0
    tamper_rows: int = 0
    report_dir: Path = Path("reports/demo")
    progress: bool | None = None


def hour_before_now_ms(minutes: int) -> int:
    """The start of the last ``minutes`` before the current hour (``--start now``)."""
    now = time.time_ns() // 1_000_000
    hour = now - now % 3_600_000
    return hour - minutes * 60_000


class Progress:
    """A one-line progress bar on stderr (only when stderr is a terminal, unless forced)."""

    def __init__(self, total: int, label: str, enabled: bool | None) -> None:
        self.total = max(total, 1)
        self.label = label
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._last = -1

    def update(self, done: int, note: str = "") -> None:
        if not self.enabled:
            return
        percent = int(100 * done / self.total)
        if percent == self._last and done != self.total:
            return
        self._last = percent
        bar = "#" * (percent // 4) + "." * (25 - percent // 4)
        sys.stderr.write(f"\r{self.label} [{bar}] {percent:3d}% {note:<40}")
        if done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def app_settings(eventhubs: str, storage: str, options: DemoOptions) -> dict[str, str]:
    """The app settings the handlers run with locally (what local.settings.json would hold)."""
    values = {
        names.EVENTHUB_CONNECTION_SETTING: eventhubs,
        names.STORAGE_CONNECTION_SETTING: storage,
        "BMS_SEED": str(options.seed),
        "BMS_VALIDATION_SAMPLE_RATE": str(options.sample_rate),
        "BMS_MALFORMED_RATE": str(options.malformed_rate),
        "BMS_MAX_CATCHUP_SLOTS": "30",
    }
    if options.orders_per_minute is not None:
        values["BMS_ORDERS_PER_MINUTE"] = str(options.orders_per_minute)
    values["BMS_DUPLICATE_RATE"] = str(options.duplicate_rate)
    return values


def host_env(values: dict[str, str]) -> dict[str, str]:
    """The environment the local host runs the app in: defaults, this process's, ``values``."""
    from bms_core.functions.settings import DEFAULTS

    return {**DEFAULTS, **os.environ, **values}


def run_demo(options: DemoOptions, *, log: Callable[[str], None] = print) -> DemoReport:
    """Run the pipeline on a simulated clock and return the reconciled report."""
    from bms_local.azurite import start_azurite
    from bms_local.services import start_emulator_process

    started = time.monotonic()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bms-demo-")))
        azurite = start_azurite(workdir / "azurite", blob_port=0, queue_port=0, table_port=0)
        stack.callback(azurite.stop)
        emulator = start_emulator_process(log_path=workdir / "eventhubs.log")
        stack.callback(emulator.stop)
        env = host_env(app_settings(emulator.connection_string, azurite.connection_string, options))
        run = _Run(options, env, workdir, log)
        stack.callback(run.close)
        report = run.execute()
    report.wall_seconds = round(time.monotonic() - started, 2)
    return report


class _Run:
    """One demo run: the parts, the simulated clock, and the tallies for the report."""

    def __init__(
        self,
        options: DemoOptions,
        env: dict[str, str],
        workdir: Path,
        log: Callable[[str], None],
    ) -> None:
        from bms_core.functions.runtime import Runtime
        from bms_local.pipeline import HubReader, SentEvents, TickedHub
        from bms_local.sending import EventHubSink
        from bms_local.stream_job import StreamJob
        from bms_local.warehouse import Warehouse

        self.options = options
        self.log = log
        eventhubs = env[names.EVENTHUB_CONNECTION_SETTING]
        self.storage = env[names.STORAGE_CONNECTION_SETTING]
        self.env = env
        runtime = Runtime(env, clock=lambda: self.now_ms)
        self.settings = runtime.settings
        self.scenario = self.settings.scenario
        self.start_ms = options.start_ms - options.start_ms % 60_000
        self.end_ms = self.start_ms + options.minutes * 60_000
        self.now_ms = self.start_ms
        self.sent = SentEvents()
        self.stream_tick_ms = self.start_ms
        """The tick the stream job is handling (it lags behind ``now_ms``)."""
        self.joined_sink = EventHubSink(env=env)
        self._joined_ticks: list[Any] = []
        """What the job sent to the joined hub, tick by tick, not yet told to the validator."""
        self.job = StreamJob()
        self.warehouse = Warehouse(workdir / "warehouse.sqlite")
        self.readers = {
            "bookings": HubReader(eventhubs, self.settings.bookings_hub, names.ASA_CONSUMER_GROUP),
            "payments": HubReader(eventhubs, self.settings.payments_hub, names.ASA_CONSUMER_GROUP),
        }
        self.inputs = {
            hub: TickedHub(self.readers[hub], self.sent) for hub in ("bookings", "payments")
        }
        self._early: dict[str, deque[tuple[int, list[Any]]]] = {
            "bookings": deque(),
            "payments": deque(),
        }
        """Ticks one input had complete before the other (the job takes a tick of both)."""
        self.received = Counter[str]()
        self.tampered_rows = 0
        self.pairs_by_order: dict[str, list[dict[str, Any]]] = {}
        self.joined_pairs = 0
        self.joined_rows = 0
        self.joined_events = 0
        self.curated = (0, 0)
        """``(seat rows, order rows)`` the curated tables took when the run ended."""
        self.validator = Counter[str]()
        self.latencies_ms: list[int] = []
        """Latency of every joined row of a sampled order, as the stream job sent it."""
        self.latency_unknown = 0
        self.batch_latencies: list[dict[str, int]] = []
        """The latency figures of each validator summary row."""
        self.findings_by_rule = Counter[str]()
        self.bursts: list[dict[str, Any]] = []
        self.sent_per_minute: dict[str, Counter[int]] = {
            "bookings": Counter(),
            "payments": Counter(),
        }

    def close(self) -> None:
        from bms_local.pipeline import close_readers
        from bms_local.sending import close_producers

        functions = getattr(self, "_functions", None)
        if functions is not None and functions.is_alive():
            functions.terminate()
            functions.join(timeout=10)
        validator = getattr(self, "_validator", None)
        if validator is not None and validator.is_alive():
            validator.terminate()
            validator.join(timeout=10)
        close_readers(self.readers.values())
        try:
            close_producers()
        finally:
            self.warehouse.close()

    # --- the simulated clock ------------------------------------------------------------------
    def execute(self) -> DemoReport:
        """Start the functions stage in its own process and carry its ticks through the rest."""
        import multiprocessing

        from bms_local.demo_functions import FunctionsPlan, run_functions
        from bms_local.demo_truth import build_report, run_orders
        from bms_local.demo_validator import ValidatorPlan, run_validator

        ticks = list(range(self.start_ms + TICK_MS, self.end_ms + DRAIN_MS + 1, TICK_MS))
        burst_at = self.start_ms + (self.options.minutes * 60_000) // 2
        plan = FunctionsPlan(
            env=self.env,
            seed=self.options.seed,
            start_ms=self.start_ms,
            end_ms=self.end_ms,
            ticks=ticks,
            tick_ms=TICK_MS,
            burst_orders=self.options.burst_orders,
            burst_at_ms=burst_at - burst_at % TICK_MS,
        )
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        functions = context.Process(
            target=run_functions, args=(plan, queue), name="demo-functions", daemon=True
        )
        functions.start()
        self._functions = functions
        self._validator_inbox = context.Queue()
        validator_outbox = context.Queue()
        validator = context.Process(
            target=run_validator,
            args=(
                ValidatorPlan(
                    self.env,
                    self.settings.joined_hub,
                    self.settings.validator_consumer_group,
                    VALIDATOR_BATCH,
                ),
                self._validator_inbox,
                validator_outbox,
            ),
            name="demo-validator",
            daemon=True,
        )
        validator.start()
        self._validator = validator
        self._last_word: tuple[str, Any] | None = None
        progress = Progress(len(ticks) + 1, "demo", self.options.progress)
        done = 0
        while done < len(ticks):
            for sent in self._ticks_sent(queue, functions):
                self._arrived(sent)
                done += 1
            self._stream()
            progress.update(done, f"{format_ms(self.now_ms)[:16]} joined rows {self.joined_rows}")
        self._finished(queue, functions)
        self._stream(wait=True)
        for reader in self.readers.values():  # they stop while the report is built
            reader.close(wait=False)
        self._validator_inbox.put(None)
        # while the validator finishes: the curated tables' load (sql/synapse_load_clean.sql),
        # as a schedule would run it, and the truth the report compares with
        self.job.flush()
        self.curated = self.warehouse.load_clean()
        orders = run_orders(self)
        self._validated(validator_outbox, validator)
        progress.update(len(ticks) + 1, f"done, joined rows {self.joined_rows}")
        return build_report(self, orders)

    def _ticks_sent(self, queue: Any, functions: Any) -> list[Any]:
        """The ticks the functions stage has finished: at least one (waiting), all there are."""
        import queue as queue_module

        out = []
        while True:
            try:
                item = queue.get(timeout=0.0 if out else 1.0)
            except queue_module.Empty:
                if out:
                    return out
                if not functions.is_alive():
                    raise RuntimeError("the functions stage stopped without a word") from None
                continue
            if isinstance(item, tuple):
                _raise_if_error(item)
                self._last_word = item
                return out
            out.append(item)

    def _finished(self, queue: Any, functions: Any) -> None:
        """Wait for the functions stage to say every output was delivered, and to exit."""
        item = self._last_word or queue.get(timeout=120)
        _raise_if_error(item)
        functions.join(timeout=30)

    def _validated(self, outbox: Any, validator: Any) -> None:
        """Wait for the validator stage's tally (it has written its tables by then)."""
        import queue as queue_module

        while True:
            try:
                item = outbox.get(timeout=1.0)
                break
            except queue_module.Empty:
                if not validator.is_alive():
                    raise RuntimeError("the validator stage stopped without a word") from None
        kind, detail = item
        if kind == "error":
            raise RuntimeError(f"the validator stage failed:\n{detail}")
        self.validator = detail.counts
        self.findings_by_rule = detail.findings_by_rule
        self.batch_latencies = detail.batch_latencies
        validator.join(timeout=30)

    def _arrived(self, sent: Any) -> None:
        """Note what one tick of the functions carried; it reached the hubs at that tick."""
        self.now_ms = sent.tick_ms
        minute = (sent.tick_ms - 1 - self.start_ms) // 60_000
        for hub, bodies in sent.timers.items():
            self.sent.record(hub, bodies, sent.tick_ms)
            self.sent_per_minute[hub][minute] += len(bodies)
        for hub, bodies in sent.others.items():
            self.sent.record(hub, bodies, sent.tick_ms)
        if sent.burst is not None:
            self.bursts.append(sent.burst)
            self.log(
                f"burst {sent.burst['burst_id']}: {self.options.burst_orders} orders at "
                f"{format_ms(sent.tick_ms)}"
            )
        for hub in ("bookings", "payments"):
            self.inputs[hub].end_tick(sent.tick_ms)

    # --- stream job, warehouse, joined hub, validator ----------------------------------------
    def _stream(self, *, wait: bool = False) -> None:
        """Move the ticks whose events have all arrived through the job, warehouse, joined hub
        and validator; with ``wait``, every tick so far.

        Each stage lags behind the producers by as many ticks as the SDK's delivery takes, but
        it handles a tick whole, with exactly that tick's events in their hubs' order, and
        gives its own output the tick's time: nothing depends on wall-clock timing, so runs
        repeat exactly.
        """
        from bms_local.demo_validator import JoinedTick
        from bms_local.stream_job import Arrival

        for hub in ("bookings", "payments"):
            self._early[hub].extend(self.inputs[hub].ready(wait=wait))
        while self._early["bookings"] and self._early["payments"]:
            tick_ms, booking_events = self._early["bookings"].popleft()
            _, payment_events = self._early["payments"].popleft()
            arrivals = [
                Arrival(kind, placed.body, tick_ms, placed.partition)
                for kind, batch in (("booking", booking_events), ("payment", payment_events))
                for placed in batch
            ]
            self.received["bookings"] += len(booking_events)
            self.received["payments"] += len(payment_events)
            self.stream_tick_ms = tick_ms
            self._joined_ticks.append(JoinedTick(tick_ms, self._join(arrivals)))
        if self._joined_ticks:
            self._validator_inbox.put(self._joined_ticks)
            self._joined_ticks = []

    def _join(self, arrivals: list[Any]) -> list[bytes]:
        """Join a tick's arrivals; land the rows in the warehouse and the joined hub, whose
        bodies it returns."""
        from bms_local.pipeline import pack_rows

        seat_rows: list[dict[str, Any]] = []
        order_rows: list[dict[str, Any]] = []
        for pair in self.job.feed_all(arrivals):
            self.joined_pairs += 1
            seat_rows.extend(pair.seat_rows())
            order_rows.append(pair.order_row())
            self.pairs_by_order.setdefault(str(pair.booking.get("order_id")), []).append(
                pair.payment
            )
        if not seat_rows:
            return []
        self.joined_rows += len(seat_rows)
        self._measure_latency(seat_rows)
        self.warehouse.insert_seat_rows(seat_rows)
        self.warehouse.insert_order_rows(order_rows)
        packed = pack_rows(self._tampered(seat_rows), self.job.partition_count)
        result = self.joined_sink.send(self.settings.joined_hub, packed)
        if result.failed:
            raise RuntimeError(f"joined hub: {len(result.failed)} events not sent")
        self.joined_events += len(packed)
        return [p.body for p in packed]

    def stored_findings(self) -> int:
        """Findings as Azurite holds them (what a user would query), not as we counted them."""
        from azure.data.tables import TableServiceClient

        service = TableServiceClient.from_connection_string(self.storage)
        table = service.get_table_client(names.FINDINGS_TABLE)
        try:
            return sum(1 for _ in table.list_entities(select=["RowKey"]))
        except Exception as exc:  # no table yet means no finding was ever written
            if "TableNotFound" in str(exc) or "ResourceNotFound" in str(exc):
                return 0
            raise

    def _tampered(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """With ``tamper_rows``, alter that many rows on their way to the joined hub (a fault)."""
        remaining = self.options.tamper_rows - self.tampered_rows
        if remaining <= 0:
            return rows
        out = [dict(row) for row in rows]
        for row in out[:remaining]:
            row["seat_amount"] = (row_paise(row["seat_amount"]) + 1) / 100
        self.tampered_rows += min(remaining, len(out))
        return out

    def _measure_latency(self, rows: list[dict[str, Any]]) -> None:
        """The latency of the rows the validator will sample, as it will measure them: they
        reach the joined hub at the stream job's tick."""
        from bms_core.joined import check, latency

        rate = self.settings.validation_sample_rate
        for row in rows:
            if check.sampled(row["order_id"], rate):
                value = latency.row_latency_ms(self.stream_tick_ms, row["payment_time"])
                if value is None:
                    self.latency_unknown += 1
                else:
                    self.latencies_ms.append(value)


def _raise_if_error(item: tuple[str, Any]) -> None:
    kind, detail = item
    if kind == "error":
        raise RuntimeError(f"the functions stage failed:\n{detail}")


def row_paise(value: Any) -> int:
    """Paise of a row's money value (a JSON number) without float rounding surprises."""
    from decimal import Decimal

    return to_paise(Decimal(str(value)).quantize(Decimal("0.01")))
