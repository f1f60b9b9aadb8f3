"""When and how an order is paid: its outcome and every attempt, derived from the order key.

:func:`schedule` is the one home of this model: the planner calls it for every order, and the
timers' due-payments path calls it for recent orders without planning their bookings. It reads
only the order's own draws (:class:`~bms_core.traffic.entropy.PaymentDraws`, and for retries
:class:`~bms_core.traffic.entropy.RetryDraws`) and its booking time, so timers can find the payments
due in a window by recomputing schedules, without building whole bookings or storing anything.

Delays: an on-time first attempt follows a log-normal around the scenario's median, capped
inside the join window; a ``late_payment_rate`` share comes 901-1200 s after booking (never
joins). Later attempts follow after uniform gaps of 1 s .. ``retry_gap_max_seconds``.
Outcomes: ``paid_first_try`` (one Success), ``paid_after_retry`` (1-2 Failed then Success),
``failed_abandoned`` (1-3 Failed), ``never_paid`` (no attempt).
"""

from __future__ import annotations

from typing import Final, NamedTuple

from bms_core.traffic import entropy
from bms_core.traffic.catalog import (
    FAILURE_REASONS_BY_METHOD,
    LATE_DELAY_MS,
    MIN_RETRY_GAP_MS,
    Catalog,
)
from bms_core.traffic.entropy import RetryDraws, payment_draws, pick, retry_draws
from bms_core.traffic.scenario import OUTCOME_NAMES

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


LATE_SPAN_MS: Final = LATE_DELAY_MS[1] + 1 - LATE_DELAY_MS[0]
"""Late first attempts come ``LATE_DELAY_MS[0] + (draw * LATE_SPAN_MS >> 32)`` after booking."""
_SAME_METHOD_CUT: Final = entropy.cut(SAME_METHOD_ON_RETRY)
"""A retry keeps its method when its draw is below this (:func:`bms_core.traffic.entropy.cut`)."""


class Attempt(NamedTuple):
    """One payment attempt before it becomes a :class:`~bms_core.contract.Payment`."""

    attempt: int
    time_ms: int
    method: str
    status: str
    reason: str | None


AttemptFields = tuple[int, int, str, str, str | None]
"""An :class:`Attempt`'s fields as a plain tuple, as :func:`schedule` makes them: the event
stream unpacks them, and unpacking a plain tuple is several times cheaper than a NamedTuple's."""
_NEVER_PAID: Final[tuple[int, tuple[AttemptFields, ...]]] = (NEVER_PAID, ())


def schedule(cat: Catalog, booking_ms: int, record: bytes) -> tuple[int, tuple[AttemptFields, ...]]:
    """``(outcome index into OUTCOMES, attempts in time order)`` of the order booked at
    ``booking_ms`` whose draws are ``record``; each attempt is an :class:`Attempt`'s fields.

    The first attempt's delay: a ``late_payment_rate`` share is late, uniform over
    :data:`~bms_core.traffic.catalog.LATE_DELAY_MS`; the rest follow the log-normal delay, read from
    the catalog's quantile steps (the draw's top 12 bits pick a step, its low 20 bits a point
    inside it).
    """
    outcome_draw, method_draw, late_draw, delay_draw = payment_draws(record)
    outcome = pick(cat.outcome_cuts, outcome_draw)
    if outcome == NEVER_PAID:
        return _NEVER_PAID
    if late_draw < cat.late_cut:
        first_ms = booking_ms + LATE_DELAY_MS[0] + ((delay_draw * LATE_SPAN_MS) >> 32)
    else:
        low, rise = cat.delay_steps[delay_draw >> 20]
        first_ms = booking_ms + low + ((rise * (delay_draw & 0xFFFFF)) >> 20)
    method = cat.methods[pick(cat.method_cuts, method_draw)]
    if outcome == PAID_FIRST_TRY:
        return outcome, ((1, first_ms, method, "Success", None),)
    return outcome, retries(cat, outcome, first_ms, method, retry_draws(record))


def retries(
    cat: Catalog, outcome: int, first_ms: int, method: str, later: RetryDraws
) -> tuple[AttemptFields, ...]:
    """Attempts of an order that fails at least once (first attempt at ``first_ms``).

    Each retry follows a uniform gap, keeps the method with probability
    :data:`SAME_METHOD_ON_RETRY` (otherwise draws one from the mix), and a failure names one
    of its method's reasons.
    """
    if outcome == PAID_AFTER_RETRY:
        failures = 1 + pick(_RETRY_CUTS, later.failures)
        count = failures + 1
    else:
        failures = count = 1 + pick(_ABANDON_CUTS, later.failures)
    gaps = (later.gap_before_2, later.gap_before_3)
    keeps = (later.keep_method_2, later.keep_method_3)
    switches = (later.method_2, later.method_3)
    reasons = (later.reason_1, later.reason_2, later.reason_3)
    gap_end = cat.gap_max_ms + 1
    time_ms = first_ms
    attempts: list[AttemptFields] = []
    for k in range(count):
        if k:
            time_ms += entropy.span(gaps[k - 1], MIN_RETRY_GAP_MS, gap_end)
            if keeps[k - 1] >= _SAME_METHOD_CUT:
                method = cat.methods[pick(cat.method_cuts, switches[k - 1])]
        if k < failures:
            known = FAILURE_REASONS_BY_METHOD[method]
            reason = known[reasons[k] % len(known)]
            attempts.append((k + 1, time_ms, method, "Failed", reason))
        else:
            attempts.append((k + 1, time_ms, method, "Success", None))
    return tuple(attempts)
