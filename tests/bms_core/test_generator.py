"""The generator: random access, slots, payments due, bursts, emission, and its invariants."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from bms_core.contract import decode_booking, decode_payment, encode
from bms_core.money import gst_paise, to_paise
from bms_core.names import JOIN_WINDOW_SECONDS
from bms_core.timefmt import parse_iso, parse_ms
from bms_core.traffic import generator as g
from bms_core.traffic.orderid import OrderKey
from bms_core.traffic.scenario import Scenario

START = parse_iso("2026-11-27T13:00:00Z")  # a Friday, 18:30 IST
S = Scenario(seed=11)
BURST = "bk2p7aq3zxm"


def _slot() -> int:
    return g.slot_at(S, START)


def test_order_i_of_a_slot_is_the_same_alone_as_in_its_slot() -> None:
    slot = _slot()
    orders = g.orders_in(S, slot)
    assert len(orders) == g.slot_order_count(S, slot) > 0
    for order in orders:
        assert g.order_at(S, order.key) == order
        assert g.regenerate(S, order.booking.order_id) == order


def test_orders_of_a_slot_lie_inside_it_in_booking_order() -> None:
    for slot in range(_slot(), _slot() + 20):
        start, end = g.slot_bounds(S, slot)
        times = [parse_ms(b.booking_time) for b in g.bookings_in(S, slot)]
        assert times == sorted(times)
        assert all(start <= t < end for t in times)


def test_an_index_beyond_the_slot_is_no_order() -> None:
    slot = _slot()
    key = OrderKey("t", S.seed, slot, g.slot_order_count(S, slot))
    with pytest.raises(ValueError, match="does not exist"):
        g.order_at(S, key)


def test_other_seed_other_orders() -> None:
    a = g.bookings_in(S, _slot())
    b = g.bookings_in(Scenario(seed=12), _slot())
    assert [encode(x) for x in a] != [encode(x) for x in b]


def _orders_between(scenario: Scenario, start_ms: int, end_ms: int) -> list[g.Order]:
    first = g.slot_at(scenario, start_ms - g.MAX_PAYMENT_DELAY_MS)
    last = g.slot_at(scenario, end_ms)
    return [o for slot in range(first, last + 1) for o in g.orders_in(scenario, slot)]


def test_payments_due_finds_every_attempt_in_the_window_including_earlier_slots() -> None:
    scenario = Scenario(seed=3, orders_per_minute=120)
    start, end = START + 600_000, START + 660_000
    expected = sorted(
        (p for o in _orders_between(scenario, start, end) for p in o.payments),
        key=lambda p: (p.payment_time, p.payment_id),
    )
    expected = [p for p in expected if start <= parse_ms(p.payment_time) < end]
    due = g.payments_due(scenario, start, end)
    assert due == expected
    slot_start = g.slot_bounds(scenario, g.slot_at(scenario, start))[0]
    booked = {
        p.order_id: parse_ms(g.regenerate(scenario, p.order_id).booking.booking_time) for p in due
    }
    assert any(t < slot_start for t in booked.values()), "no payment of an earlier slot's booking"


def test_consecutive_windows_hand_out_each_payment_exactly_once() -> None:
    scenario = Scenario(seed=4, orders_per_minute=60, slot_seconds=5)
    windows = [(START + i * 7_000, START + (i + 1) * 7_000) for i in range(40)]
    seen = Counter(p.payment_id for a, b in windows for p in g.payments_due(scenario, a, b))
    assert seen and max(seen.values()) == 1
    assert g.payments_due(scenario, START, START) == []


def test_every_order_obeys_money_time_and_id_rules() -> None:
    ids: set[str] = set()
    for slot in range(_slot(), _slot() + 30):
        for order in g.orders_in(S, slot):
            b = order.booking
            n = len(b.event_details.seats)
            prices = [to_paise(s.price) for s in b.event_details.seats]
            fee = to_paise(b.convenience_fee_per_ticket)
            assert to_paise(b.ticket_subtotal) == sum(prices)
            assert to_paise(b.convenience_fee) == n * fee
            assert to_paise(b.gst_on_fee) == n * gst_paise(fee)
            assert to_paise(b.total_amount) == sum(prices) + n * (fee + gst_paise(fee))
            booked = parse_ms(b.booking_time)
            assert parse_ms(b.event_details.show_time) > booked
            assert b.customer.email.rsplit("@", 1)[1] in {
                "example.com",
                "example.net",
                "example.org",
            }
            assert b.event_id == f"{b.order_id}-b"
            ids.add(b.event_id)
            last = booked
            for i, p in enumerate(order.payments, start=1):
                assert p.amount == b.total_amount
                assert p.attempt == i
                assert p.payment_id == p.event_id == f"{b.order_id}-p{i}"
                t = parse_ms(p.payment_time)
                assert booked <= last <= t <= booked + g.MAX_PAYMENT_DELAY_MS
                last = t
                ids.add(p.event_id)
            statuses = [p.payment_status for p in order.payments]
            assert (
                statuses
                == {
                    "paid_first_try": ["Success"],
                    "paid_after_retry": ["Failed"] * (len(statuses) - 1) + ["Success"],
                    "failed_abandoned": ["Failed"] * len(statuses),
                    "never_paid": [],
                }[order.outcome]
            )
            assert all(
                (p.failure_reason is None) == (p.payment_status == "Success")
                for p in order.payments
            )
    assert len(ids) > 1000


def test_bursts_book_at_or_just_before_the_anchor_and_pay_later() -> None:
    anchor = START + 1234
    orders = g.burst_orders(S, BURST, 200, anchor)
    assert len(orders) == 200
    for order in orders:
        assert order.key.namespace == BURST and order.key.slot == anchor // 1000
        t = parse_ms(order.booking.booking_time)
        assert anchor // 1000 * 1000 - g.BURST_SPREAD_MS < t <= anchor
        assert g.regenerate(S, order.booking.order_id) == order
    all_payments = sorted(
        (p for o in orders for p in o.payments), key=lambda p: (p.payment_time, p.payment_id)
    )
    due = g.burst_payments_due(
        S, BURST, 200, anchor, anchor - 1000, anchor + g.MAX_PAYMENT_DELAY_MS
    )
    assert due == all_payments
    early = g.burst_payments_due(S, BURST, 200, anchor, anchor - 1000, anchor + 60_000)
    assert 0 < len(early) < len(due)
    assert not g.burst_payments_due(S, BURST, 200, anchor, anchor + 5_000_000, anchor + 6_000_000)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("bad", 5, START), "burst_id"),
        ((BURST, -1, START), "orders"),
        ((BURST, 5, "now"), "anchor_ms"),
    ],
)
def test_bad_burst_arguments_are_named(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        g.burst_orders(S, *args)  # type: ignore[arg-type]


def test_emitted_bodies_are_the_contract_encoding_and_due_at_their_event_time() -> None:
    scenario = Scenario(seed=5, duplicate_rate=0.0)
    slot = g.slot_at(scenario, START)
    emitted = g.bookings_to_send(scenario, slot)
    orders = g.orders_in(scenario, slot)
    assert [e.body for e in emitted] == [encode(o.booking) for o in orders]
    for e, o in zip(emitted, orders, strict=True):
        assert e.kind == "booking"
        assert e.partition_key == o.booking.order_id
        assert e.event_id == o.booking.event_id
        assert e.due_ms == parse_ms(o.booking.booking_time)
    start, end = START, START + 30_000
    payments = g.payments_to_send(scenario, start, end)
    assert [e.body for e in payments] == [encode(p) for p in g.payments_due(scenario, start, end)]
    assert all(e.due_ms == parse_ms(decode_payment(e.body).payment_time) for e in payments)
    burst = g.burst_to_send(scenario, BURST, 30, START)
    assert [e.body for e in burst] == [
        encode(o.booking) for o in g.burst_orders(scenario, BURST, 30, START)
    ]
    burst_pay = g.burst_payments_to_send(scenario, BURST, 30, START, START - 1000, START + 120_000)
    expected = g.burst_payments_due(scenario, BURST, 30, START, START - 1000, START + 120_000)
    assert [e.body for e in burst_pay] == [encode(p) for p in expected]


def test_stream_is_the_first_orders_in_event_time_order() -> None:
    events = list(g.stream(S, START, 500))
    bookings = [decode_booking(e.body) for e in events if e.kind == "booking"]
    order_ids = list(dict.fromkeys(b.order_id for b in bookings))
    assert len(order_ids) == 500
    assert min(parse_ms(b.booking_time) for b in bookings) >= START
    due = [e.due_ms for e in events]
    assert due == sorted(due)
    first_slot = [o.booking.order_id for o in g.orders_in(S, g.slot_at(S, START))]
    assert order_ids[: len(first_slot)] == first_slot
    seen: set[str] = set()
    for e in events:
        if e.kind == "booking":
            seen.add(e.partition_key)
        else:
            assert e.partition_key in seen, "a payment came before its booking"
    payments = {decode_payment(e.body).payment_id for e in events if e.kind == "payment"}
    expected = {p.payment_id for oid in order_ids for p in g.regenerate(S, oid).payments}
    assert payments == expected


def test_duplicates_are_exact_copies_at_the_configured_rate() -> None:
    scenario = Scenario(seed=6, duplicate_rate=0.2)
    events = list(g.stream(scenario, START, 3000))
    by_id: dict[str, list[bytes]] = {}
    for e in events:
        assert e.event_id is not None
        by_id.setdefault(e.event_id, []).append(e.body)
    assert all(len(set(bodies)) == 1 and len(bodies) <= 2 for bodies in by_id.values())
    share = sum(len(b) == 2 for b in by_id.values()) / len(by_id)
    assert abs(share - 0.2) < 0.02
    plain = list(g.stream(scenario.with_overrides({"duplicate_rate": 0}), START, 3000))
    assert len(plain) == len(by_id)


def test_malformed_events_appear_only_when_asked_and_never_in_the_model() -> None:
    assert all(e.event_id is not None for e in g.stream(S, START, 2000))
    scenario = Scenario(seed=6, malformed_rate=0.1, duplicate_rate=0.0)
    events = list(g.stream(scenario, START, 2000))
    bad = [e for e in events if e.event_id is None]
    good = [e for e in events if e.event_id is not None]
    assert abs(len(bad) / len(good) - 0.1) < 0.02
    for e in bad:
        with pytest.raises(Exception):  # noqa: B017 - any decode/validation error will do
            (decode_booking if e.kind == "booking" else decode_payment)(e.body)
    kinds = Counter()
    for e in bad:
        try:
            data = json.loads(e.body)
        except ValueError:
            kinds["bad_json"] += 1
            continue
        if "order_id" not in data:
            kinds["missing_field"] += 1
        elif isinstance(data.get("amount", data.get("total_amount")), str):
            kinds["wrong_type"] += 1
        else:
            kinds["bad_timestamp"] += 1
    assert set(kinds) == {"bad_json", "missing_field", "wrong_type", "bad_timestamp"}
    slot = g.slot_at(scenario, START)
    for order in g.orders_in(scenario, slot):
        decode_booking(encode(order.booking))


def test_payment_delays_most_within_a_minute_some_beyond_the_join_window() -> None:
    firsts = []
    for slot in range(_slot(), _slot() + 60):
        for order in g.orders_in(S, slot):
            if order.payments:
                b = parse_ms(order.booking.booking_time)
                firsts.append(parse_ms(order.payments[0].payment_time) - b)
    within_minute = sum(d <= 60_000 for d in firsts) / len(firsts)
    beyond = sum(d > JOIN_WINDOW_SECONDS * 1000 for d in firsts) / len(firsts)
    assert within_minute > 0.7
    assert 0.01 < beyond < 0.06
    assert max(firsts) > 5 * 60_000, "no long tail"


def test_evening_and_weekend_slots_get_more_orders() -> None:
    def orders_per_hour(iso: str) -> int:
        start = g.slot_at(S, parse_iso(iso))
        return sum(g.slot_order_count(S, s) for s in range(start, start + 360))

    tuesday_night = orders_per_hour("2026-11-24T22:00:00Z")  # 03:30 IST
    tuesday_evening = orders_per_hour("2026-11-24T14:00:00Z")  # 19:30 IST
    saturday_evening = orders_per_hour("2026-11-28T14:00:00Z")
    assert tuesday_night * 5 < tuesday_evening < saturday_evening


def test_a_zero_rate_streams_nothing_but_says_why() -> None:
    with pytest.raises(ValueError, match="orders_per_minute is 0"):
        g.stream(Scenario(orders_per_minute=0), START, 1)
    assert g.orders_in(Scenario(orders_per_minute=0), _slot()) == []


def test_streamed_bodies_are_the_contract_encoding_of_the_regenerated_orders() -> None:
    scenario = Scenario(seed=13, duplicate_rate=0.0)
    for e in g.stream(scenario, START, 400):
        order = g.regenerate(scenario, e.partition_key)
        if e.kind == "booking":
            assert e.body == encode(order.booking)
        else:
            payment = decode_payment(e.body)
            assert e.body == encode(order.payments[payment.attempt - 1])
