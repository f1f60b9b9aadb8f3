"""The timer functions' logic: which slots (or payment window) a tick covers, and sending them.

A tick covers every slot closed since the previous tick. The previous tick comes from the timer's
schedule status (``Last``: the host persists it when ``use_monitor`` is on), so no state row is
needed; after downtime the first tick is past due and catches up, bounded by
``BMS_MAX_CATCHUP_SLOTS`` (older slots are skipped and the count is logged). Without a
``Last`` (first run ever) a tick covers the one slot that just closed.

Only closed slots are sent, so no event time is in the future of its send. Re-running a tick
regenerates identical events (the generator is pure), so a retry or an overlap duplicates
events with the same ids, never invents new ones.

Sends go through a sink (:mod:`bms_core.sending`) that routes by ``order_id`` exactly as Event
Hubs does; tests and benchmarks swap in a :class:`~bms_core.sending.MemorySink` with
:func:`use_sink`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from bms_core import clock
from bms_core.sending import EventSink

log = logging.getLogger("bms.emit")


class EmitFailed(RuntimeError):
    """Some events could not be sent; raised after the rest were sent so the host retries."""


# --- the sink ------------------------------------------------------------------------------
_sink: EventSink | None = None


def current_sink() -> EventSink:
    """The process-wide sink: the real Event Hubs sink unless :func:`use_sink` replaced it."""
    global _sink
    if _sink is None:
        from bms_core.sending import EventHubSink

        _sink = EventHubSink()
    return _sink


@contextmanager
def use_sink(sink: EventSink) -> Iterator[EventSink]:
    """Within the block every handler sends to ``sink`` (tests, benchmarks, the local runner)."""
    global _sink
    previous = _sink
    _sink = sink
    try:
        yield sink
    finally:
        _sink = previous


# --- which slots a tick covers -------------------------------------------------------------
_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def parse_status_time(text: object) -> int | None:
    """Epoch ms of a schedule-status time as the host writes it (any ISO-8601 form).

    ``None`` for missing, unparseable or the .NET "never" value (year 1).
    """
    if not isinstance(text, str) or not text.strip():
        return None
    cleaned = _FRACTION.sub(r"\1", text.strip().replace("Z", "+00:00"))
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    if moment.year < 2000:
        return None
    return int(moment.timestamp() * 1000)


def last_run_ms(timer: Any) -> int | None:
    """The previous occurrence from ``timer.schedule_status['Last']``, if the host gave one."""
    status: Mapping[str, object] = getattr(timer, "schedule_status", None) or {}
    return parse_status_time(status.get("Last"))


@dataclass(frozen=True)
class TickPlan:
    """The slots one tick sends (``first`` .. ``end - 1``) and how many it had to skip."""

    first: int
    end: int
    skipped: int

    @property
    def slots(self) -> range:
        return range(self.first, self.end)


def plan_tick(scenario: Any, now_ms: int, last_ms: int | None, max_catchup: int) -> TickPlan:
    """Slots closed since the previous tick, newest ``max_catchup`` of them at most."""
    from bms_core.generator import slot_at

    end = slot_at(scenario, now_ms)
    first = end - 1 if last_ms is None else min(slot_at(scenario, last_ms), end)
    skipped = max(0, end - first - max_catchup)
    return TickPlan(first + skipped, end, skipped)


# --- reports ---------------------------------------------------------------------------------
@dataclass
class EmitReport:
    """What one invocation did; logged as one JSON line and returned to callers."""

    function: str
    hub: str
    window_start_ms: int
    window_end_ms: int
    slots: int
    skipped_slots: int
    events: int = 0
    sent: int = 0
    failed: int = 0
    bursts: int = 0
    past_due: bool = False
    by_kind: dict[str, int] = field(default_factory=dict)

    def log_line(self) -> str:
        return json.dumps({"bms": self.function, **self.__dict__}, sort_keys=True)


def _send(report: EmitReport, sink: EventSink, events: Sequence[Any]) -> None:
    report.events = len(events)
    result = sink.send(report.hub, events)
    report.sent = result.sent
    report.failed = len(result.failed)
    log.info(report.log_line())
    if result.failed:
        reasons = sorted({reason for _, reason in result.failed})
        raise EmitFailed(
            f"{report.function}: {len(result.failed)} of {len(events)} events not sent to "
            f"'{report.hub}': {'; '.join(reasons[:3])}"
        )


# --- the handlers ----------------------------------------------------------------------------
def _begin(
    name: str, hub: str, timer: Any, settings: Any, now_ms: int | None
) -> tuple[TickPlan, EmitReport]:
    """The tick's slots and the report it fills: the whole slots closed since the last run."""
    from bms_core import generator

    scenario = settings.scenario
    now = clock.now_ms() if now_ms is None else now_ms
    plan = plan_tick(scenario, now, last_run_ms(timer), settings.max_catchup_slots)
    start = generator.slot_bounds(scenario, plan.first)[0]
    end = generator.slot_bounds(scenario, plan.end)[0]
    report = EmitReport(
        name,
        hub,
        start,
        end,
        len(plan.slots),
        plan.skipped,
        past_due=bool(getattr(timer, "past_due", False)),
    )
    return plan, report


def run_emit_bookings(
    timer: Any, settings: Any, *, sink: EventSink | None = None, now_ms: int | None = None
) -> EmitReport:
    """Send the bookings of every slot closed since the previous tick."""
    from bms_core import generator

    scenario = settings.scenario
    plan, report = _begin("emit_bookings", settings.bookings_hub, timer, settings, now_ms)
    events: list[Any] = []
    for slot in plan.slots:
        events.extend(generator.emit_bookings(scenario, slot))
    report.by_kind = _kinds(events)
    _send(report, sink or current_sink(), events)
    return report


def run_emit_payments(
    timer: Any,
    settings: Any,
    *,
    sink: EventSink | None = None,
    store: Any = None,
    now_ms: int | None = None,
) -> EmitReport:
    """Send the payments that fell due since the previous tick: timer orders' and bursts'.

    The window is whole slots (``[start of the first slot, start of the open slot)``) so that
    consecutive ticks tile time without gaps or overlap whatever their jitter.
    """
    from bms_core import bursts, generator

    scenario = settings.scenario
    _, report = _begin("emit_payments", settings.payments_hub, timer, settings, now_ms)
    start, end = report.window_start_ms, report.window_end_ms
    events: list[Any] = list(generator.emit_payments(scenario, start, end)) if end > start else []
    if end > start:
        try:
            manifests = (store or bursts.current_store(settings)).active(
                start, end, generator.MAX_PAYMENT_DELAY_MS
            )
        except Exception as exc:
            # Storage is down: still send the timer payments, then fail so the retry policy
            # runs the tick again (the timer payments then go twice, with the same ids).
            _send(report, sink or current_sink(), events)
            raise EmitFailed(
                f"emit_payments: burst manifests unreadable ({type(exc).__name__}: {exc}); "
                f"{report.sent} timer payments sent, burst payments not"
            ) from exc
        report.bursts = len(manifests)
        for manifest in manifests:
            burst_scenario = bursts.scenario_of(scenario, manifest)
            events.extend(
                generator.emit_burst_payments(
                    burst_scenario,
                    manifest.burst_id,
                    manifest.orders,
                    manifest.anchor_ms,
                    start,
                    end,
                )
            )
    report.by_kind = _kinds(events)
    _send(report, sink or current_sink(), events)
    return report


def _kinds(events: Sequence[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in events:
        kind = event.kind if event.event_id is not None else "malformed"
        counts[kind] = counts.get(kind, 0) + 1
    return counts
