"""When and how an order is paid: its outcome and every attempt, derived from the order key.

The schedule uses only the order's own draws (purpose ``PAYMENTS``) and its booking time, so
timers can find the payments due in a window by recomputing schedules of recent orders, without
building whole bookings or storing anything.

Delays: an on-time first attempt follows a log-normal around the scenario's median, capped
inside the join window; a ``late_payment_rate`` share comes 901-1200 s after booking (never
joins). Later attempts follow after uniform gaps of 1 s .. ``retry_gap_max_seconds``.
Outcomes: ``paid_first_try`` (one Success), ``paid_after_retry`` (1-2 Failed then Success),
``failed_abandoned`` (1-3 Failed), ``never_paid`` (no attempt).
"""

from __future__ import annotations

from typing import Final, NamedTuple

from bms_core import entropy
from bms_core.catalog import (
    FAILURE_REASONS_BY_METHOD,
    LATE_DELAY_MS,
    MIN_RETRY_GAP_MS,
    Catalog,
    delay_ms,
)
from bms_core.orderid import OrderKey
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


class Attempt(NamedTuple):
    """One payment attempt before it becomes a :class:`~bms_core.contract.Payment`."""

    attempt: int
    time_ms: int
    method: str
    status: str
    reason: str | None


def schedule(
    scenario: Scenario, cat: Catalog, key: OrderKey, booking_ms: int
) -> tuple[int, tuple[Attempt, ...]]:
    """``(outcome index into OUTCOMES, attempts in time order)`` for the order ``key``."""
    d = entropy.draws(key.seed, key.namespace, key.slot, key.index, entropy.PAYMENTS)
    outcome = entropy.pick(cat.outcome_cuts, d[0])
    if outcome == NEVER_PAID:
        return outcome, ()
    if entropy.below(d[2], scenario.late_payment_rate):
        first_delay = entropy.span(d[3], LATE_DELAY_MS[0], LATE_DELAY_MS[1] + 1)
    else:
        first_delay = delay_ms(cat.delays, d[3])
    if outcome == PAID_FIRST_TRY:
        failures = 0
    elif outcome == PAID_AFTER_RETRY:
        failures = 1 + entropy.pick(_RETRY_CUTS, d[4])
    else:
        failures = 1 + entropy.pick(_ABANDON_CUTS, d[4])
    count = failures if outcome == FAILED_ABANDONED else failures + 1
    methods = cat.methods
    method = methods[entropy.pick(cat.method_cuts, d[1])]
    gap_max = round(scenario.retry_gap_max_seconds * 1000)
    time_ms = booking_ms + first_delay
    attempts = []
    for n in range(count):
        if n:
            time_ms += entropy.span(d[4 + n], MIN_RETRY_GAP_MS, gap_max + 1)
            if not entropy.below(d[7 + n], SAME_METHOD_ON_RETRY):
                method = methods[entropy.pick(cat.method_cuts, d[10 + n])]
        if n < failures:
            reasons = FAILURE_REASONS_BY_METHOD[method]
            attempts.append(
                Attempt(n + 1, time_ms, method, "Failed", reasons[d[13 + n] % len(reasons)])
            )
        else:
            attempts.append(Attempt(n + 1, time_ms, method, "Success", None))
    return outcome, tuple(attempts)
