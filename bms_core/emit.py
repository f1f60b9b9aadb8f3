"""The timer functions' logic: which slots (or payment window) a tick covers, and their events.

A tick covers every slot closed since the previous tick. The previous tick comes from the timer's
schedule status (``Last``: the host persists it when ``use_monitor`` is on), so no state row is
needed; after downtime the first tick is past due and catches up, bounded by
``BMS_MAX_CATCHUP_SLOTS`` (older slots are skipped and the count is logged). Without a
``Last`` (first run ever) a tick covers the one slot that just closed.

Only closed slots are emitted, so no event time is in the future of its send. Re-running a tick
regenerates identical events (the generator is pure), so a retry or an overlap duplicates
events with the same ids, never invents new ones.

Output. A handler sets its Event Hubs output binding (``func.Out[typing.List[str]]``) to the
tick's event bodies, one JSON text per element; it sends nothing itself. The Functions host
sends one event per element, keyless, in batches of up to the hub's message size (1 MB on
Standard and Premium namespaces), each batch landing whole on one partition. If the host cannot
write the output the invocation fails and the function's retry policy runs the tick again; if a
handler raises, nothing is written. No body exceeds :data:`bms_core.names.EVENT_MAX_BYTES`.

Dependencies are parameters: ``settings``, ``manifests`` and ``now_ms`` default to those of the
running :mod:`bms_core.runtime`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from bms_core import runtime
from bms_core.names import EVENT_MAX_BYTES

log = logging.getLogger("bms.emit")


class EmitFailed(RuntimeError):
    """The tick's events could not be produced; raised so the host retries the tick."""


class Output(Protocol):
    """What a handler needs of an output binding: ``azure.functions.Out``'s ``set``."""

    def set(self, val: Any) -> None: ...


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
    bursts: int = 0
    past_due: bool = False
    by_kind: dict[str, int] = field(default_factory=dict)

    def log_line(self) -> str:
        return json.dumps({"bms": self.function, **self.__dict__}, sort_keys=True)


def bodies_of(events: Sequence[Any]) -> list[str]:
    """The events' bodies as the output binding takes them: one JSON text per event.

    A body over :data:`~bms_core.names.EVENT_MAX_BYTES` (which the service would refuse) is a
    generator bug; it raises instead of reaching the output.
    """
    raw = [event.body for event in events]
    if raw and max(map(len, raw)) > EVENT_MAX_BYTES:
        big = next(e for e in events if len(e.body) > EVENT_MAX_BYTES)
        raise EmitFailed(
            f"event {big.event_id} is {len(big.body)} bytes, over the {EVENT_MAX_BYTES} an event "
            "may have"
        )
    return [body.decode() for body in raw]


def _write(report: EmitReport, out: Output, events: Sequence[Any]) -> None:
    report.events = len(events)
    report.by_kind = _kinds(events)
    out.set(bodies_of(events))
    log.info(report.log_line())


# --- the handlers ----------------------------------------------------------------------------
def _begin(
    name: str, hub: str, timer: Any, settings: Any, now_ms: int | None
) -> tuple[TickPlan, EmitReport]:
    """The tick's slots and the report it fills: the whole slots closed since the last run."""
    from bms_core import generator

    scenario = settings.scenario
    now = runtime.current().clock() if now_ms is None else now_ms
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
    timer: Any, bookings: Output, *, settings: Any = None, now_ms: int | None = None
) -> EmitReport:
    """Set ``bookings`` to the bookings of every slot closed since the previous tick."""
    from bms_core import generator

    settings = settings or runtime.current().settings
    scenario = settings.scenario
    plan, report = _begin("emit_bookings", settings.bookings_hub, timer, settings, now_ms)
    events: list[Any] = []
    for slot in plan.slots:
        events.extend(generator.emit_bookings(scenario, slot))
    _write(report, bookings, events)
    return report


def run_emit_payments(
    timer: Any,
    payments: Output,
    *,
    settings: Any = None,
    manifests: Any = None,
    now_ms: int | None = None,
) -> EmitReport:
    """Set ``payments`` to the payments that fell due since the previous tick: timer orders'
    and bursts'.

    The window is whole slots (``[start of the first slot, start of the open slot)``) so that
    consecutive ticks tile time without gaps or overlap whatever their jitter. If the burst
    manifests cannot be read the tick raises :class:`EmitFailed` and writes nothing: the retry
    policy runs it again, and the failure is visible instead of burst payments going missing.
    """
    from bms_core import bursts, generator

    settings = settings or runtime.current().settings
    scenario = settings.scenario
    _, report = _begin("emit_payments", settings.payments_hub, timer, settings, now_ms)
    start, end = report.window_start_ms, report.window_end_ms
    events: list[Any] = list(generator.emit_payments(scenario, start, end)) if end > start else []
    if end > start:
        try:
            store = manifests if manifests is not None else runtime.current().manifests
            active = store.active(start, end, generator.MAX_PAYMENT_DELAY_MS)
        except Exception as exc:
            raise EmitFailed(
                f"emit_payments: burst manifests unreadable ({type(exc).__name__}: {exc}); "
                "nothing written, the tick will be retried"
            ) from exc
        report.bursts = len(active)
        for manifest in active:
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
    _write(report, payments, events)
    return report


def _kinds(events: Sequence[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in events:
        kind = event.kind if event.event_id is not None else "malformed"
        counts[kind] = counts.get(kind, 0) + 1
    return counts
