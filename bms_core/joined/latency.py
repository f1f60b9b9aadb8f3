"""The pipeline's latency: how long after a payment its joined row reached the joined hub.

For a joined row, latency = the enqueued time of the Event Hubs event that carried it (stamped by
the service when the stream job's output arrived) minus the row's ``payment_time``. On Azure that
is Stream Analytics' end-to-end delay for the payment: the producer's send, the job's watermark
and output batching. A row whose event has no enqueued time, or whose ``payment_time`` is not a
time, has no latency: it is counted as unknown, never estimated.

Percentiles are nearest-rank: the p-th percentile of n values is the ``ceil(p * n / 100)``-th
smallest, always a value that was measured. Figures are whole milliseconds, as Table storage
keeps them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final

PERCENTILES: Final = (50, 95, 99)
ROWS: Final = "latency_rows"
UNKNOWN: Final = "latency_unknown"
FIGURES: Final = (*(f"latency_p{p}_ms" for p in PERCENTILES), "latency_max_ms")
"""Summary fields holding figures (not counts): they are never added across batches."""

EXPLANATION: Final = (
    "Latency is the joined row's enqueued time on the joined hub minus its payment_time: the wait "
    "for the producer's timer tick (10 s), the job's watermark (ASA holds events for the "
    "out-of-order tolerance, 10 s; a lagging input partition holds it back up to the late-arrival "
    "tolerance, 60 s, and later events get that time instead, they are not dropped) and output "
    "batching. Rows without an enqueued time are counted as unknown, not estimated."
)


def nearest_rank(sorted_values: Sequence[int], percent: float) -> int:
    """The ``percent``-th percentile of ascending ``sorted_values`` (not empty), nearest-rank."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(math.ceil(percent * len(sorted_values) / 100), 1)
    return sorted_values[rank - 1]


def row_latency_ms(enqueued_ms: int | None, payment_time: Any) -> int | None:
    """Enqueued time minus ``payment_time`` in ms, or ``None`` when either is unknown."""
    from bms_core.joined.check import to_ms

    if enqueued_ms is None:
        return None
    paid_ms = to_ms(payment_time)
    return None if paid_ms is None else enqueued_ms - paid_ms


def enqueued_ms(moment: datetime | None) -> int | None:
    """Epoch ms of an event's enqueued time (``None`` when the event carried none)."""
    if moment is None:
        return None
    return round(moment.timestamp() * 1000)


def summary_fields(values_ms: Iterable[int], unknown: int) -> dict[str, int]:
    """``latency_rows``, ``latency_unknown`` and, when any row was measured, the figures."""
    ordered = sorted(values_ms)
    fields = {ROWS: len(ordered), UNKNOWN: unknown}
    if ordered:
        for percent, name in zip(PERCENTILES, FIGURES, strict=False):
            fields[name] = nearest_rank(ordered, percent)
        fields["latency_max_ms"] = ordered[-1]
    return fields


def describe(fields: dict[str, Any]) -> str:
    """One line for a log: ``latency p50 4.9 s, p95 9.5 s, p99 9.9 s, max 10.0 s (n rows)``."""
    rows, unknown = fields.get(ROWS, 0), fields.get(UNKNOWN, 0)
    tail = f"{rows} rows" + (f", {unknown} without an enqueued time" if unknown else "")
    if not rows:
        return f"latency: none measured ({tail})"
    shown = ", ".join(
        f"{name.removeprefix('latency_').removesuffix('_ms')} {fields[name] / 1000:.1f} s"
        for name in FIGURES
    )
    return f"latency {shown} ({tail})"
