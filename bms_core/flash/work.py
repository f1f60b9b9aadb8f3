"""The burst queue's handlers: start a fanned-out burst, run a work item, record a poisoned one.

Handlers return the event bodies; ``function_app.py`` writes them through the Event Hubs output
bindings (the host sends one event per element, keyless batches of up to 1 MB). Nothing here
sends to Event Hubs. Dependencies (queue, progress store, clock reading) are parameters.

Bounds: a chunk item sends at most ``chunk_orders`` orders' bookings (with their duplicates and
malformed extras) and the payments already due when it runs; a payments item sends at most one
attempt per order of its chunk. So no invocation carries more than about
``chunk_orders * (1 + MAX_ATTEMPTS)`` events, whatever the burst's size.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bms_core.flash import items as work_items
from bms_core.flash.items import ChunkItem, FanOutItem, PaymentsItem, WorkItem
from bms_core.flash.layout import PAYMENT_WINDOW_MS, BurstSpec, seconds_until
from bms_core.flash.progress import ChunkDone, ProgressStore
from bms_core.flash.queue import Scheduled, WorkQueue

log = logging.getLogger("bms.flash")


class NotDueYet(RuntimeError):
    """An item delivered before its time (clock skew): failing lets the host retry it later."""


@dataclass
class WorkResult:
    """What one work item produced: bodies for the two Event Hubs outputs, items enqueued."""

    kind: str
    bookings: list[str] = field(default_factory=list)
    payments: list[str] = field(default_factory=list)
    enqueued: int = 0


def burst_scenario(scenario: Any, spec: BurstSpec) -> Any:
    """The scenario a burst is generated with: the app's, with the burst's seed and knobs."""
    return scenario.with_overrides({**spec.overrides, "seed": spec.seed})


def schedule(items: Sequence[WorkItem], now_ms: int) -> list[Scheduled]:
    """Each item with the delay that keeps it hidden until due: a chunk until its anchor, a
    payments item until its window has closed, a fan-out step not at all."""
    out: list[Scheduled] = []
    for item in items:
        if isinstance(item, ChunkItem):
            at = item.spec.chunk_anchor_ms(item.chunk)
        elif isinstance(item, PaymentsItem):
            at = (item.window + 1) * PAYMENT_WINDOW_MS
        else:
            at = now_ms
        out.append((item, seconds_until(at, now_ms)))
    return out


def enqueue_burst(spec: BurstSpec, queue: WorkQueue, now_ms: int) -> int:
    """Put the top of the burst's fan-out tree on the queue; the number of items put."""
    top = work_items.fan_out(spec, 0, spec.chunks)
    queue.put(schedule(top, now_ms))
    return len(top)


def run_work_item(
    text: str | bytes,
    scenario: Any,
    *,
    queue: WorkQueue,
    progress: ProgressStore,
    now_ms: int,
) -> WorkResult:
    """Run one queue message. A bad message raises :class:`~bms_core.flash.items.BadWorkItem`
    (it then ends in the poison queue, where it is recorded); storage errors propagate so the
    host retries the message."""
    item = work_items.decode(text)
    if isinstance(item, FanOutItem):
        children = work_items.fan_out(item.spec, item.first, item.end)
        queue.put(schedule(children, now_ms))
        return WorkResult("fanout", enqueued=len(children))
    if isinstance(item, ChunkItem):
        return run_chunk(item, scenario, queue=queue, progress=progress, now_ms=now_ms)
    return run_payments(item, scenario, progress=progress, now_ms=now_ms)


def run_chunk(
    item: ChunkItem, scenario: Any, *, queue: WorkQueue, progress: ProgressStore, now_ms: int
) -> WorkResult:
    """A chunk's bookings, its payments due before the current window, and one payments item
    per later window that holds any of its attempts."""
    from bms_core.traffic import generator

    spec, chunk = item.spec, item.chunk
    anchor = spec.chunk_anchor_ms(chunk)
    if now_ms < anchor:
        raise NotDueYet(f"chunk {chunk} of {spec.burst_id} is due at {anchor}, now {now_ms}")
    indexes = spec.indexes(chunk)
    s = burst_scenario(scenario, spec)
    plans = generator.burst_chunk_plans(s, spec.burst_id, anchor, indexes)
    bookings = generator.plan_bookings_to_send(s, plans)
    current_window = now_ms // PAYMENT_WINDOW_MS
    cutoff = current_window * PAYMENT_WINDOW_MS
    now_due = generator.due_attempts(plans, 0, cutoff)
    payments = generator.due_payments_to_send(s, now_due)
    later: dict[int, set[int]] = {}
    last_ms: int | None = None
    first = indexes.start
    for plan in plans:
        for attempt in plan.attempts:
            last_ms = attempt.time_ms if last_ms is None else max(last_ms, attempt.time_ms)
            if attempt.time_ms >= cutoff:
                later.setdefault(attempt.time_ms // PAYMENT_WINDOW_MS, set()).add(
                    plan.slot_index - first
                )
    windows = [
        PaymentsItem(spec, chunk, window, tuple(sorted(positions)))
        for window, positions in sorted(later.items())
    ]
    queue.put(schedule(windows, now_ms))
    scheduled = sum(1 for plan in plans for a in plan.attempts if a.time_ms >= cutoff)
    progress.chunk_done(
        spec,
        chunk,
        ChunkDone(len(bookings), len(payments), len(windows), scheduled, last_ms),
    )
    return WorkResult(
        "chunk",
        bookings=[e.body.decode() for e in bookings],
        payments=[e.body.decode() for e in payments],
        enqueued=len(windows),
    )


def run_payments(
    item: PaymentsItem, scenario: Any, *, progress: ProgressStore, now_ms: int
) -> WorkResult:
    """The attempts of the item's orders inside its window, once the window has closed."""
    from bms_core.traffic import generator

    spec = item.spec
    start = item.window * PAYMENT_WINDOW_MS
    end = start + PAYMENT_WINDOW_MS
    if now_ms < end:
        raise NotDueYet(f"payment window {start} .. {end} of {spec.burst_id} has not closed")
    indexes = spec.indexes(item.chunk)
    chosen = [indexes[p] for p in item.positions]
    s = burst_scenario(scenario, spec)
    plans = generator.burst_chunk_plans(s, spec.burst_id, spec.chunk_anchor_ms(item.chunk), chosen)
    payments = generator.due_payments_to_send(s, generator.due_attempts(plans, start, end))
    progress.window_done(spec, item.chunk, item.window, len(payments))
    return WorkResult("payments", payments=[e.body.decode() for e in payments])


def tick_payment_items(
    scenario: Any, manifest: Any, start_ms: int, end_ms: int
) -> list[PaymentsItem]:
    """Payments items for an inline burst's attempts in ``[start_ms, end_ms)`` (whole 10-s
    windows), one per window: how a payments tick hands off what would exceed its bound.

    ``scenario`` is the burst's own (the app's with the manifest's seed and knobs). An inline
    burst is one chunk of ``orders`` orders anchored at its anchor, so the items name the very
    orders the tick would have sent.
    """
    from bms_core.traffic import generator
    from bms_core.traffic.due_payments import burst_due

    spec = BurstSpec(
        manifest.burst_id,
        manifest.seed,
        manifest.orders,
        manifest.orders,
        manifest.anchor_ms,
        0,
        dict(manifest.overrides),
    )
    keys = generator.burst_keys(scenario, spec.burst_id, spec.orders, spec.anchor_ms)
    windows: dict[int, set[int]] = {}
    for time_ms, _, plan, _ in burst_due(scenario, keys, start_ms, end_ms):
        windows.setdefault(time_ms // PAYMENT_WINDOW_MS, set()).add(plan.slot_index)
    return [
        PaymentsItem(spec, 0, window, tuple(sorted(positions)))
        for window, positions in sorted(windows.items())
    ]


def spec_of(manifest: Any) -> BurstSpec:
    """The chunk layout of a fanned-out burst's manifest."""
    return BurstSpec(
        manifest.burst_id,
        manifest.seed,
        manifest.orders,
        manifest.chunk_orders,
        manifest.anchor_ms,
        manifest.over_seconds,
        dict(manifest.overrides),
    )


def payments_due(scenario: Any, manifest: Any, start_ms: int, end_ms: int) -> list[Any]:
    """A fanned-out burst's payment attempts (:class:`~bms_core.contract.Payment`) with a time
    in ``[start_ms, end_ms)``: the truth reconcile counts. ``scenario`` is the burst's own.

    Only chunks whose payments can fall in the window are looked at, and of those only the
    orders paying in it are planned in full.
    """
    from bms_core.traffic.due_payments import attempt_times, due_plans, payments_of_due
    from bms_core.traffic.payments import MAX_PAYMENT_DELAY_MS

    spec = spec_of(manifest)
    out: list[Any] = []
    for chunk in range(spec.chunks):
        anchor = spec.chunk_anchor_ms(chunk)
        if anchor - 1000 >= end_ms or anchor + MAX_PAYMENT_DELAY_MS < start_ms:
            continue
        candidates = attempt_times(
            scenario, spec.burst_id, scenario.seed, anchor // 1000, spec.indexes(chunk)
        )
        out += payments_of_due(scenario, due_plans(scenario, candidates, start_ms, end_ms))
    return out


def run_emit_burst_chunk(
    message: Any,
    bookings: Any,
    payments: Any,
    *,
    scenario: Any = None,
    queue: WorkQueue | None = None,
    progress: ProgressStore | None = None,
    now_ms: int | None = None,
) -> WorkResult:
    """``emit_burst_chunk``: run the queue message's item and set the outputs it fills.

    Parameters left out default to the running :mod:`bms_core.functions.runtime`'s.
    """
    from bms_core.functions import runtime

    current = runtime.current()
    result = run_work_item(
        message.get_body(),
        current.settings.scenario if scenario is None else scenario,
        queue=current.burst_queue if queue is None else queue,
        progress=current.burst_progress if progress is None else progress,
        now_ms=current.clock() if now_ms is None else now_ms,
    )
    if result.bookings:
        bookings.set(result.bookings)
    if result.payments:
        payments.set(result.payments)
    log.info(
        "%s: %d bookings, %d payments, %d items enqueued",
        result.kind,
        len(result.bookings),
        len(result.payments),
        result.enqueued,
    )
    return result


def run_burst_chunk_poisoned(message: Any, *, progress: ProgressStore | None = None) -> str:
    """``burst_chunk_poisoned``: record the poisoned item (see :func:`record_poisoned`)."""
    from bms_core.functions import runtime

    store = runtime.current().burst_progress if progress is None else progress
    recorded = record_poisoned(message.get_body(), progress=store)
    log.error("burst work item poisoned: %s", recorded)
    return recorded


def record_poisoned(text: str | bytes, *, progress: ProgressStore) -> str:
    """Mark what a poisoned message stood for as failed; returns what was recorded."""
    try:
        item = work_items.decode(text)
    except work_items.BadWorkItem as exc:
        log.error("poisoned burst message is not a work item: %s", exc)
        return f"unreadable: {exc}"
    spec = item.spec
    if isinstance(item, ChunkItem):
        progress.chunk_failed(spec, [item.chunk], "message reached the poison queue")
        return f"{spec.burst_id} chunk {item.chunk} failed"
    if isinstance(item, FanOutItem):
        chunks = range(item.first, item.end)
        progress.chunk_failed(spec, chunks, "its fan-out message reached the poison queue")
        return f"{spec.burst_id} chunks {item.first} .. {item.end - 1} failed"
    progress.window_failed(spec, item.chunk, item.window)
    return f"{spec.burst_id} chunk {item.chunk} payment window {item.window} failed"
