"""When and how an order is paid: its outcome and every attempt, derived from the order key.

The schedule uses only the order's own draws (words 12-15 and 20-29 of its record, see
:mod:`bms_core.entropy`) and its booking time, so timers can find the payments due in a window
by recomputing schedules of recent orders, without building whole bookings or storing anything.

Delays: an on-time first attempt follows a log-normal around the scenario's median, capped
inside the join window; a ``late_payment_rate`` share comes 901-1200 s after booking (never
joins). Later attempts follow after uniform gaps of 1 s .. ``retry_gap_max_seconds``.
Outcomes: ``paid_first_try`` (one Success), ``paid_after_retry`` (1-2 Failed then Success),
``failed_abandoned`` (1-3 Failed), ``never_paid`` (no attempt).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from typing import Final, NamedTuple

from bms_core import entropy
from bms_core.catalog import (
    FAILURE_REASONS_BY_METHOD,
    LATE_DELAY_MS,
    MIN_RETRY_GAP_MS,
    Catalog,
)
from bms_core.entropy import PICK_SHIFT
from bms_core.scenario import OUTCOME_NAMES, Scenario

OUTCOMES: Final = OUTCOME_NAMES
PAID_FIRST_TRY: Final = 0
PAID_AFTER_RETRY: Final = 1
FAILED_ABANDONED: Final = 2
NEVER_PAID: Final = 3

MAX_ATTEMPTS: Final = 3
MAX_RETRY_GAP_MS: Final = 120_000
MAX_PAYMENT_DELAY_MS: Final = 1_800_000
"""No attempt is later than this after its booking (30 minutes)."""
assert LATE_DELAY_MS[1] + (MAX_ATTEMPTS - 1) * MAX_RETRY_GAP_MS <= MAX_PAYMENT_DELAY_MS

SAME_METHOD_ON_RETRY: Final = 0.7
RETRY_FAILURES_WEIGHTS: Final = (75, 25)
ABANDON_FAILURES_WEIGHTS: Final = (50, 35, 15)
_RETRY_CUTS: Final = entropy.thresholds(RETRY_FAILURES_WEIGHTS)
_ABANDON_CUTS: Final = entropy.thresholds(ABANDON_FAILURES_WEIGHTS)


_new = tuple.__new__
_AFTER_HOT: Final = (0,) * entropy.HOT
"""Stands in for the hot words, which :func:`retries` does not read."""
LATE_SPAN_MS: Final = LATE_DELAY_MS[1] + 1 - LATE_DELAY_MS[0]
"""Late first attempts come ``LATE_DELAY_MS[0] + (draw * LATE_SPAN_MS >> 32)`` after booking."""
_SAME_METHOD_CUT: Final = entropy.cut(SAME_METHOD_ON_RETRY)
"""A retry keeps its method when its draw is below this (:func:`bms_core.entropy.cut`)."""


AttemptFields = tuple[int, int, str, str, str | None]
"""An :class:`Attempt`'s fields as a plain tuple (see :data:`bms_core.orderplan.PlanRow`)."""


class Attempt(NamedTuple):
    """One payment attempt before it becomes a :class:`~bms_core.contract.Payment`."""

    attempt: int
    time_ms: int
    method: str
    status: str
    reason: str | None


def schedule(
    scenario: Scenario, cat: Catalog, words: tuple[int, ...], booking_ms: int, record: bytes
) -> tuple[int, tuple[Attempt, ...]]:
    """``(outcome index into OUTCOMES, attempts in time order)`` from an order's draws.

    ``words`` are the order's hot words (:func:`bms_core.entropy.hot_words` of ``record``);
    only retries read the rest of the record.
    """
    return schedules(scenario, cat, ((booking_ms, words, record),))[0]


def schedules(
    scenario: Scenario, cat: Catalog, timed: Iterable[tuple[int, tuple[int, ...], bytes]]
) -> list[tuple[int, tuple[Attempt, ...]]]:
    """:func:`schedule` of many orders, each given as ``(booking ms, hot words, record)``.

    :func:`bms_core.orderplan.plan_orders` runs the same steps inline (a test compares them).
    """
    outcome_cuts = cat.outcome_cuts
    outcome_table = cat.picks.outcome
    late_cut = cat.late_cut
    delay_steps = cat.delay_steps
    methods = cat.methods
    method_cuts = cat.method_cuts
    method_table = cat.picks.method
    late_low = LATE_DELAY_MS[0]
    pick = bisect_right
    attempt_type = Attempt
    never: tuple[int, tuple[Attempt, ...]] = (NEVER_PAID, ())
    out: list[tuple[int, tuple[Attempt, ...]]] = []
    for booking_ms, words, record in timed:
        draw = words[12]
        outcome = outcome_table[draw >> PICK_SHIFT]
        if outcome < 0:
            outcome = pick(outcome_cuts, draw)
        if outcome == NEVER_PAID:
            out.append(never)
            continue
        draw = words[15]
        if words[14] < late_cut:
            time_ms = booking_ms + late_low + ((draw * LATE_SPAN_MS) >> 32)
        else:
            low, rise = delay_steps[draw >> 20]
            time_ms = booking_ms + low + ((rise * (draw & 0xFFFFF)) >> 20)
        draw = words[13]
        method_index = method_table[draw >> PICK_SHIFT]
        method = methods[method_index if method_index >= 0 else pick(method_cuts, draw)]
        if outcome == PAID_FIRST_TRY:
            out.append((outcome, (_new(attempt_type, (1, time_ms, method, "Success", None)),)))
        else:
            later = entropy.later_words(record, entropy.HOT_BYTES)
            out.append((outcome, retries(cat, outcome, time_ms, method, later)))
    return out


def retries(
    cat: Catalog, outcome: int, time_ms: int, method: str, later: tuple[int, ...]
) -> tuple[Attempt, ...]:
    """Attempts of an order that fails at least once (first attempt at ``time_ms``).

    ``later`` is ``later_words(record, HOT_BYTES)``: ``later[i]`` is word ``HOT + i`` (see
    :mod:`bms_core.entropy`).
    """
    w = _AFTER_HOT + later  # indexes are word numbers again
    if outcome == PAID_AFTER_RETRY:
        failures = 1 + bisect_right(_RETRY_CUTS, w[entropy.FAILURES])
        count = failures + 1
    else:
        failures = count = 1 + bisect_right(_ABANDON_CUTS, w[entropy.FAILURES])
    methods = cat.methods
    gap_end = cat.gap_max_ms + 1
    attempts = []
    for k in range(count):
        if k:
            time_ms += entropy.span(w[entropy.GAP + k], MIN_RETRY_GAP_MS, gap_end)
            if w[entropy.SAME_METHOD + k] >= _SAME_METHOD_CUT:
                method = methods[bisect_right(cat.method_cuts, w[entropy.RETRY_METHOD + k])]
        if k < failures:
            reasons = FAILURE_REASONS_BY_METHOD[method]
            reason = reasons[w[entropy.REASON + k] % len(reasons)]
            attempts.append(_new(Attempt, (k + 1, time_ms, method, "Failed", reason)))
        else:
            attempts.append(_new(Attempt, (k + 1, time_ms, method, "Success", None)))
    return tuple(attempts)
