"""Order plans: the configured mixes come out at their rates, and both renderers agree."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bms_core.contract import (
    CHANNELS,
    EVENT_TYPES,
    PAYMENT_METHODS,
    SEAT_CATEGORIES,
    decode_booking,
    decode_payment,
    encode,
)
from bms_core.timefmt import parse_iso
from bms_core.traffic import entropy
from bms_core.traffic import generator as g
from bms_core.traffic.catalog import catalog
from bms_core.traffic.orderid import OrderKey
from bms_core.traffic.orderplan import OrderPlan, plan_order, plan_orders
from bms_core.traffic.payments import Attempt
from bms_core.traffic.plan_events import booking_of, payments_of
from bms_core.traffic.scenario import OUTCOME_NAMES, Mix, Scenario
from bms_core.traffic.wire import booking_body, payment_body

START = parse_iso("2026-11-25T12:00:00Z")
SAMPLE = 50_000
TOLERANCE = 0.02


def _plans(scenario: Scenario, count: int) -> list[OrderPlan]:
    plans: list[OrderPlan] = []
    slot = g.slot_at(scenario, START)
    while len(plans) < count:
        plans.extend(g.plans_in(scenario, slot))
        slot += 1
    return plans[:count]


def _assert_mix(observed: Counter[str], mix: Mix, what: str) -> None:
    total = sum(observed.values())
    weights = sum(w for _, w in mix)
    for name, weight in mix:
        share = observed[name] / total
        assert abs(share - weight / weights) <= TOLERANCE, (what, name, share, weight / weights)
    assert set(observed) <= {name for name, w in mix if w > 0}


SKEWED = Scenario(
    seed=99,
    orders_per_minute=6000,
    city_mix=(("Mumbai", 1.0), ("Indore", 1.0), ("Guwahati", 2.0)),
    event_type_mix=(("Sports", 3.0), ("Comedy", 1.0), ("Movie", 0.0)),
    payment_method_mix=(("Wallet", 1.0), ("UPI", 1.0), ("Net Banking", 2.0)),
    channel_mix=(("iOS", 1.0), ("Partner", 1.0)),
    outcome_mix=(
        ("paid_first_try", 50.0),
        ("paid_after_retry", 20.0),
        ("failed_abandoned", 20.0),
        ("never_paid", 10.0),
    ),
    seat_category_mix=(("Recliner", 1.0), ("Silver", 3.0)),
    late_payment_rate=0.1,
)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", [Scenario(seed=2, orders_per_minute=6000), SKEWED])
def test_mixes_come_out_within_two_points_over_50k_orders(scenario: Scenario) -> None:
    plans = _plans(scenario, SAMPLE)
    cat = catalog(scenario)
    _assert_mix(Counter(g.OUTCOMES[p.outcome] for p in plans), scenario.outcome_mix, "outcome")
    _assert_mix(Counter(cat.cities[p.city] for p in plans), scenario.city_mix, "city")
    _assert_mix(Counter(cat.types[p.event_type] for p in plans), scenario.event_type_mix, "type")
    _assert_mix(Counter(cat.channels[p.channel] for p in plans), scenario.channel_mix, "channel")
    _assert_mix(
        Counter(cat.categories[p.category] for p in plans), scenario.seat_category_mix, "category"
    )
    _assert_mix(
        Counter(p.attempts[0].method for p in plans if p.attempts),
        scenario.payment_method_mix,
        "method",
    )
    seats = Counter(str(p.seats) for p in plans)
    _assert_mix(
        seats,
        tuple((str(n), w) for n, w in enumerate(scenario.seats_per_order_weights, start=1)),
        "seats",
    )
    paying = [p for p in plans if p.attempts]
    late = sum(p.attempts[0].time_ms - p.booking_ms > 900_000 for p in paying) / len(paying)
    assert abs(late - scenario.late_payment_rate) <= TOLERANCE


def _mix_of(names: tuple[str, ...]) -> st.SearchStrategy[Mix]:
    return st.lists(
        st.tuples(st.sampled_from(names), st.floats(0.1, 10)), min_size=1, unique_by=lambda p: p[0]
    ).map(tuple)


scenarios = st.builds(
    Scenario,
    seed=st.integers(0, 2**63 - 1),
    slot_seconds=st.integers(1, 3600),
    orders_per_minute=st.floats(1, 300),
    city_mix=st.lists(
        st.tuples(
            st.text("abcdefgh ĀāéЖ'\"\\", min_size=1, max_size=12).map(str.strip).filter(bool),
            st.floats(0.1, 5),
        ),
        min_size=1,
        max_size=4,
        unique_by=lambda p: p[0],
    ).map(tuple),
    event_type_mix=_mix_of(EVENT_TYPES),
    seat_category_mix=_mix_of(SEAT_CATEGORIES),
    payment_method_mix=_mix_of(PAYMENT_METHODS),
    channel_mix=_mix_of(CHANNELS),
    outcome_mix=_mix_of(OUTCOME_NAMES),
    payment_delay_median_seconds=st.floats(0.5, 600),
    payment_delay_spread=st.floats(0, 3),
    late_payment_rate=st.floats(0, 1),
    retry_gap_max_seconds=st.floats(1, 120),
    price_scale=st.floats(0.1, 10),
    convenience_fee_percent=st.floats(0, 30),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios, hour=st.integers(0, 24 * 7))
def test_any_scenario_gives_valid_orders_and_identical_fast_bytes(
    scenario: Scenario, hour: int
) -> None:
    cat = catalog(scenario)
    slot = g.slot_at(scenario, START + hour * 3_600_000)
    start, end = g.slot_bounds(scenario, slot)
    count = min(50, g.slot_order_count(scenario, slot))
    for index in range(count):
        plan = g.plan_at(scenario, OrderKey("t", scenario.seed, slot, index))
        booking = booking_of(cat, plan)
        assert booking_body(cat, plan) == encode(booking)
        assert decode_booking(encode(booking)) == booking
        assert start <= plan.booking_ms < end
        total = plan.subtotal + plan.seats * (plan.fee + plan.gst)
        assert plan.total == total
        last = plan.booking_ms
        for attempt, payment in zip(plan.attempts, payments_of(plan), strict=True):
            assert payment_body(plan, attempt) == encode(payment)
            assert decode_payment(encode(payment)) == payment
            assert last <= attempt.time_ms <= plan.booking_ms + g.MAX_PAYMENT_DELAY_MS
            last = attempt.time_ms


def test_every_contract_type_and_category_has_prices_venues_and_rows() -> None:
    from bms_core.traffic import catalog as c
    from bms_core.traffic import pricing

    assert set(pricing.BASE_PRICE_PAISE) == set(EVENT_TYPES) == set(c.VENUE_SUFFIXES)
    assert set(c.SHOW_MINUTES_IST) == set(EVENT_TYPES)
    assert set(pricing.CATEGORY_FACTOR) == set(SEAT_CATEGORIES) == set(c.CATEGORY_ROWS)
    assert set(c.FAILURE_REASONS_BY_METHOD) == set(PAYMENT_METHODS)
    from bms_core.contract import FAILURE_REASONS

    used = {reason for reasons in c.FAILURE_REASONS_BY_METHOD.values() for reason in reasons}
    assert used <= set(FAILURE_REASONS)


def test_orders_planned_together_or_alone_are_the_same_plans() -> None:
    scenario = Scenario(seed=7, orders_per_minute=2000)
    cat = catalog(scenario)
    slot = g.slot_at(scenario, START)
    count = g.slot_order_count(scenario, slot)
    assert count > 2 * entropy.BLOCK
    together = plan_orders(scenario, cat, "t", scenario.seed, slot, range(count))
    alone = [plan_order(scenario, cat, OrderKey("t", scenario.seed, slot, i)) for i in range(count)]
    assert together == alone
    picked = [count - 1, 3, entropy.BLOCK + 1, 0, entropy.BLOCK, 3]
    chosen = plan_orders(scenario, cat, "t", scenario.seed, slot, picked)
    assert chosen == [alone[i] for i in picked]
    tail = plan_orders(scenario, cat, "t", scenario.seed, slot, range(5, count))
    assert tail == alone[5:]


def test_payment_schedule_follows_the_payment_model() -> None:
    from bms_core.traffic.catalog import FAILURE_REASONS_BY_METHOD, LATE_DELAY_MS, MIN_RETRY_GAP_MS
    from bms_core.traffic.payments import SAME_METHOD_ON_RETRY

    scenario = Scenario(seed=11, orders_per_minute=3000, late_payment_rate=0.3)
    cat = catalog(scenario)
    plans = _plans(scenario, 20_000)
    by_outcome = {n: [p for p in plans if OUTCOME_NAMES[p.outcome] == n] for n in OUTCOME_NAMES}
    assert min(len(group) for group in by_outcome.values()) > 500
    for plan in plans:
        statuses = [a.status for a in plan.attempts]
        assert (
            statuses
            == {
                "paid_first_try": ["Success"],
                "paid_after_retry": ["Failed"] * (len(statuses) - 1) + ["Success"],
                "failed_abandoned": ["Failed"] * len(statuses),
                "never_paid": [],
            }[OUTCOME_NAMES[plan.outcome]]
        )
        assert [a.attempt for a in plan.attempts] == list(range(1, len(statuses) + 1))
        for before, after in zip(plan.attempts, plan.attempts[1:], strict=False):
            assert MIN_RETRY_GAP_MS <= after.time_ms - before.time_ms <= cat.gap_max_ms
        for a in plan.attempts:
            assert (a.reason is None) == (a.status == "Success")
            assert a.reason is None or a.reason in FAILURE_REASONS_BY_METHOD[a.method]
    retried = by_outcome["paid_after_retry"]
    assert {len(p.attempts) for p in retried} == {2, 3}
    assert abs(sum(len(p.attempts) == 2 for p in retried) / len(retried) - 0.75) < 0.05
    assert {len(p.attempts) for p in by_outcome["failed_abandoned"]} == {1, 2, 3}
    later = [(p.attempts[k - 1], p.attempts[k]) for p in plans for k in range(1, len(p.attempts))]
    kept = sum(b.method == a.method for a, b in later) / len(later)
    assert kept >= SAME_METHOD_ON_RETRY - 0.05  # a switch may draw the same method again
    delays = [p.attempts[0].time_ms - p.booking_ms for p in plans if p.attempts]
    late = [d for d in delays if d > 900_000]
    assert abs(len(late) / len(delays) - scenario.late_payment_rate) < 0.02
    assert all(LATE_DELAY_MS[0] <= d <= LATE_DELAY_MS[1] for d in late)


def test_timers_find_the_attempts_the_plans_hold() -> None:
    """The due-payments path schedules from the draws alone, without planning the booking;
    it must see exactly the attempts the planner gives the same orders."""
    from bms_core.traffic.due_payments import attempt_times

    scenario = Scenario(seed=11, orders_per_minute=3000, late_payment_rate=0.3)
    cat = catalog(scenario)
    for namespace, slot in [("t", g.slot_at(scenario, START)), ("bq2vd7lzm4x", START // 1000)]:
        count = 300
        plans = plan_orders(scenario, cat, namespace, scenario.seed, slot, range(count))
        planned = [(p.key, tuple(a.time_ms for a in p.attempts)) for p in plans if p.attempts]
        assert attempt_times(scenario, namespace, scenario.seed, slot, count) == planned


def test_plan_rows_are_the_plans_fields() -> None:
    from bms_core.traffic.orderplan import plan_rows

    scenario = Scenario(seed=5, orders_per_minute=3000, late_payment_rate=0.2)
    cat = catalog(scenario)
    slot = g.slot_at(scenario, START)
    for s in range(slot, slot + 5):
        count = g.slot_order_count(scenario, s)
        plans = plan_orders(scenario, cat, "t", scenario.seed, s, range(count))
        rows = plan_rows(scenario, cat, "t", scenario.seed, s, range(count))
        assert [tuple(p) for p in plans] == rows
        assert all(type(r) is tuple for r in rows)
        assert all(isinstance(a, Attempt) for p in plans for a in p.attempts)


def test_records_across_blocks_equal_one_record_at_a_time() -> None:
    records = entropy.order_records(9, "bq2vd7lzm4x", 123, range(7, 3 * entropy.BLOCK + 2))
    alone = [entropy.record(9, "bq2vd7lzm4x", 123, i) for i in range(7, 3 * entropy.BLOCK + 2)]
    assert records == alone
    assert len(set(records)) == len(records)
    layout = (entropy.BookingDraws, entropy.PaymentDraws, entropy.DeliveryDraws)
    for record in records[:3]:
        words = entropy.all_words(record)
        assert len(record) == entropy.RECORD and len(words) == entropy.WORDS
        parts = (
            entropy.booking_draws(record),
            entropy.payment_draws(record),
            entropy.delivery_draws(record),
            tuple(entropy.retry_draws(record)),
        )
        assert sum(parts, ()) == words[: sum(len(part) for part in parts)]
        for part, kind in zip(parts, layout, strict=False):
            assert len(part) == len(kind._fields)
    assert entropy.draws(9, "bq2vd7lzm4x", 123, 7) == entropy.all_words(records[0])
    assert entropy.record(9, "t", 123, 7) != records[0]


@given(epoch_ms=st.integers(0, 253_402_300_799_999))
def test_wire_times_are_the_contract_time_text(epoch_ms: int) -> None:
    from bms_core.timefmt import format_ms
    from bms_core.traffic.wire import time_text

    assert time_text(epoch_ms) == format_ms(epoch_ms)
