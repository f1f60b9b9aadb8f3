"""The reference stream job joins like the ASA query: window, pairs, partitions, bad input."""

from __future__ import annotations

import json
import tracemalloc

from bms_core.contract import encode
from bms_core.timefmt import parse_ms
from bms_local.stream_job import Arrival, OrderingPolicy, StreamJob
from bms_local.stream_job.samples import sample_booking, sample_payment

T0 = parse_ms("2026-11-29T10:00:00.000Z")


def _b(order_id: str, at_ms: int = T0, partition: int | None = None) -> Arrival:
    return Arrival("booking", encode(sample_booking(order_id, at_ms)), None, partition)


def _p(
    order_id: str, at_ms: int, attempt: int = 1, status: str = "Success", **kw: object
) -> Arrival:
    booking = sample_booking(order_id, T0)
    return Arrival(
        "payment",
        encode(sample_payment(booking, at_ms, attempt=attempt, status=status)),
        **kw,  # type: ignore[arg-type]
    )


def _run(*arrivals: Arrival, job: StreamJob | None = None) -> tuple[StreamJob, list]:
    job = job or StreamJob()
    pairs = list(job.process(arrivals))
    job.flush()
    return job, pairs


def test_window_edges_join_at_0_and_900_s_but_not_901_s() -> None:
    job, pairs = _run(
        _b("o-zero"), _p("o-zero", T0),
        _b("o-edge"), _p("o-edge", T0 + 900_000),
        _b("o-late"), _p("o-late", T0 + 901_000),
    )  # fmt: skip
    assert sorted(p.booking["order_id"] for p in pairs) == ["o-edge", "o-zero"]
    assert job.counts["unmatched:booking"] == 1
    assert job.counts["unmatched:payment"] == 1


def test_payment_before_its_booking_never_joins() -> None:
    _, pairs = _run(_b("o-1", T0), _p("o-1", T0 - 1))
    assert pairs == []


def test_every_attempt_joins_with_its_status() -> None:
    _, pairs = _run(
        _b("o-1"), _p("o-1", T0 + 30_000, 1, "Failed"), _p("o-1", T0 + 90_000, 2, "Success")
    )
    rows = [p.order_row() for p in pairs]
    assert [(r["attempt"], r["payment_status"]) for r in rows] == [(1, "Failed"), (2, "Success")]


def test_a_duplicated_booking_doubles_the_pairs_and_is_counted() -> None:
    job, pairs = _run(_b("o-1"), _b("o-1"), _p("o-1", T0 + 1000))
    assert len(pairs) == 2
    assert job.counts["duplicate:booking"] == 1


def test_joined_at_is_the_later_event_time_even_when_the_payment_arrives_first() -> None:
    booking = _b("o-1", T0 + 5_000)
    payment = _p("o-1", T0 + 6_000)
    _, pairs = _run(payment, booking)
    assert [p.joined_at_ms for p in pairs] == [T0 + 6_000]
    assert pairs[0].seat_rows()[0]["joined_at"] == "2026-11-29T10:00:06.0000000Z"


def test_a_booking_and_its_payment_on_different_partitions_join() -> None:
    """Producers send keyless batches: the join looks for an order on every partition."""
    booking = sample_booking("o-1", T0)
    b = Arrival("booking", encode(booking), None, 0)
    p_other = Arrival("payment", encode(sample_payment(booking, T0 + 1)), None, 1)
    p_same = Arrival("payment", encode(sample_payment(booking, T0 + 2, attempt=2)), None, 0)
    _, pairs = _run(b, p_other, p_same)
    assert [p.payment["attempt"] for p in pairs] == [1, 2]
    assert [(p.booking_partition, p.payment_partition) for p in pairs] == [(0, 1), (0, 0)]
    assert [p.joined_at_ms for p in pairs] == [T0 + 1, T0 + 2]


def test_late_arrival_is_adjusted_so_a_payment_sent_too_late_falls_out_of_the_window() -> None:
    policy = OrderingPolicy(late_arrival_s=60, out_of_order_s=10)
    # event time 899 s after the booking, but enqueued 120 s later: adjusted to arrival - 60 s
    late = _p("o-1", T0 + 899_000, arrival_ms=T0 + 1_019_000)
    job, pairs = _run(_b("o-1"), late, job=StreamJob(policy))
    assert pairs == []
    assert job.counts["adjusted:payment.late"] == 1
    # within tolerance it joins, and the output keeps the payload's payment_time
    job, pairs = _run(
        _b("o-2"), _p("o-2", T0 + 899_000, arrival_ms=T0 + 950_000), job=StreamJob(policy)
    )
    assert len(pairs) == 1
    assert pairs[0].order_row()["payment_delay_ms"] == 899_000


def test_out_of_order_beyond_tolerance_is_adjusted_to_the_newest_time_minus_tolerance() -> None:
    policy = OrderingPolicy(late_arrival_s=3600, out_of_order_s=10)
    job, pairs = _run(
        _b("o-a", T0 + 100_000, partition=0),
        _b("o-b", T0 + 50_000, partition=0),  # 50 s out of order -> time becomes T0 + 90 s
        _p("o-b", T0 + 60_000, partition=0),  # before the adjusted booking time: no join
        job=StreamJob(policy),
    )
    assert pairs == []
    assert job.counts["adjusted:booking.out_of_order"] == 1


def test_drop_policy_discards_instead_of_adjusting() -> None:
    policy = OrderingPolicy(late_arrival_s=3600, out_of_order_s=10, adjust=False)
    job, pairs = _run(
        _b("o-a", T0 + 100_000, partition=0), _b("o-b", T0 + 50_000, partition=0), _p("o-b", T0 + 60_000, partition=0),
        job=StreamJob(policy),
    )  # fmt: skip
    assert pairs == []
    assert job.counts["dropped:booking.out_of_order"] == 1


def test_bad_input_is_counted_by_cause_and_kept_for_inspection() -> None:
    good = json.loads(encode(sample_booking("o-1", T0)))
    bad_time = {**good, "order_id": "o-2", "booking_time": "29/11/2026 10:00"}
    job, pairs = _run(
        Arrival("booking", b"{not json"),
        Arrival("booking", bad_time),
        Arrival("payment", {"order_id": "o-1", "payment_time": "2026-11-29T10:00:01.000Z"}),
        Arrival("booking", good),
    )
    assert pairs == []
    assert job.counts["rejected:booking.not_json_object"] == 1
    assert job.counts["rejected:booking.booking_time"] == 1
    assert job.counts["rejected:payment.attempt"] == 1
    assert [r.cause for r in job.rejects][:2] == ["booking.not_json_object", "booking.booking_time"]
    assert job.summary()["rejected"]["booking.booking_time"] == 1


def test_state_is_evicted_once_no_later_event_could_match() -> None:
    job = StreamJob(OrderingPolicy(late_arrival_s=60, out_of_order_s=10))
    for i in range(2000):
        at = T0 + i * 10_000
        list(job.feed(Arrival("booking", encode(sample_booking(f"o-{i}", at)), at, 0)))
        list(job.feed(_p(f"o-{i}", at + 5_000, arrival_ms=at + 5_000, partition=0)))
    job.advance(T0 + 1999 * 10_000 + 5_000)  # evicts now, not only every EVICT_EVERY events
    # both inputs for the window 900 s + the 60 s late tolerance at one order per 10 s
    assert job.held_events <= 2 * 97
    assert job.counts["joined_pairs"] == 2000
    assert job.counts["unmatched:booking"] == 0


def test_an_event_can_be_late_and_then_out_of_order_both_counted() -> None:
    job, _ = _run(
        _b("o-a", T0, partition=0),
        # 10 min late by its enqueued time, then still behind o-a by more than 10 s
        Arrival("booking", encode(sample_booking("o-b", T0 - 600_000)), T0 + 1_000, 0),
    )
    assert job.counts["adjusted:booking.late"] == 1
    assert job.counts["adjusted:booking.out_of_order"] == 1


def test_events_from_the_future_are_pulled_back_to_arrival_plus_five_minutes() -> None:
    future = Arrival("booking", encode(sample_booking("o-1", T0 + 3_600_000)), T0, 0)
    job, pairs = _run(future, _p("o-1", T0 + 400_000, arrival_ms=T0 + 400_000, partition=0))
    assert job.counts["adjusted:booking.early"] == 1
    assert [p.joined_at_ms for p in pairs] == [T0 + 400_000]  # booking now at T0 + 300 s


def test_advancing_an_idle_clock_evicts_and_counts_the_unmatched() -> None:
    job = StreamJob()
    job.feed(_b("o-1", T0, partition=0)._replace(arrival_ms=T0))
    job.feed(_p("o-0", T0, partition=0))  # a payments clock exists on partition 0
    assert job.held_events == 2
    job.advance(T0 + 2_000_000)
    assert job.held_events == 0
    assert job.counts["unmatched:booking"] == 1 and job.counts["unmatched:payment"] == 1


def _variants() -> list[Arrival]:
    """Bookings and payments in the producers' shape and in every shape TRY_CAST still takes
    (or rejects): the fast path must decide exactly like the exact path for all of them."""
    good = json.loads(encode(sample_booking("o-1", T0, seat_prices=(30000, 20000))))
    pay = json.loads(encode(sample_payment(sample_booking("o-1", T0), T0 + 5_000)))
    bookings = [
        good,
        {**good, "event_id": "o-1-b2", "total_amount": "812.84"},
        {**good, "event_id": "o-1-b3", "booking_time": "2026-11-29T10:00:00Z"},
        {**good, "event_id": "o-1-b4", "order_id": ""},
        {**good, "event_id": "o-1-b5", "event_details": {**good["event_details"], "seats": []}},
        {**good, "event_id": "o-1-b6", "ticket_subtotal": True},
        {**good, "event_id": "o-1-b7", "booking_time": "2026-11-29T10:00:00.000+00:00"},
        {**good, "event_id": "o-1-b8", "booking_time": "2026-11-29T10:00:60.000Z"},
        {**good, "event_id": "o-1-b9", "customer": {"name": "Zoë Ünal"}},
        {**good, "event_id": "o-1-b10", "booking_time": "2026-11-29T10:00:00.000X"},
    ]
    payments = [
        pay,
        {**pay, "event_id": "o-1-p2", "attempt": "2", "payment_time": "2026-11-29T10:00:06Z"},
        {**pay, "event_id": "o-1-p3", "attempt": 3.0, "amount": 812},
        {**pay, "event_id": "o-1-p4", "attempt": 4.5},
        {**pay, "event_id": "o-1-p5", "order_id": 17},
    ]
    return [Arrival("booking", b) for b in bookings] + [Arrival("payment", p) for p in payments]


def _outcome(arrivals: list[Arrival]) -> tuple[list, dict]:
    job, pairs = _run(*arrivals)
    return [(p.seat_rows(), p.order_row()) for p in pairs], dict(job.counts)


def test_wire_bodies_join_exactly_like_their_decoded_objects() -> None:
    as_objects = _variants()  # dict bodies always take the exact TRY_CAST path
    as_bytes = [a._replace(body=json.dumps(a.body).encode()) for a in as_objects]
    non_ascii = [
        a._replace(body=json.dumps(a.body, ensure_ascii=False).encode()) for a in as_objects
    ]
    expected = _outcome(as_objects)
    assert len(expected[0]) == 15  # 5 usable bookings x 3 joinable payments
    assert sum(v for k, v in expected[1].items() if k.startswith("rejected:")) == 6
    assert _outcome(as_bytes) == expected
    assert _outcome(non_ascii) == expected


def test_invalid_utf8_in_a_field_the_join_does_not_read_is_still_not_json() -> None:
    body = encode(sample_booking("o-1", T0)).replace(b'"Pune"', b'"Pu\xffne"', 1)
    job, pairs = _run(Arrival("booking", body), _p("o-1", T0 + 1_000))
    assert pairs == []
    assert job.counts["rejected:booking.not_json_object"] == 1


def test_memory_a_burst_took_is_given_back_once_its_events_are_evicted() -> None:
    bodies = [
        (
            encode(sample_booking(f"o-{i}", T0 + i)),
            encode(sample_payment(sample_booking(f"o-{i}", T0), T0 + 10_000 + i)),
        )
        for i in range(20_000)
    ]
    arrivals = [
        Arrival(k, b, T0 + 20_000, 0)
        for pair in bodies
        for k, b in zip(("booking", "payment"), pair, strict=True)
    ]
    tracemalloc.start()
    try:
        job = StreamJob()
        idle = tracemalloc.get_traced_memory()[0]
        pairs = job.feed_all(arrivals)
        assert len(pairs) == 20_000
        del pairs
        during = tracemalloc.get_traced_memory()[0] - idle
        job.advance(T0 + 3_600_000)  # an hour later: nothing held can match any more
        after = tracemalloc.get_traced_memory()[0] - idle
    finally:
        tracemalloc.stop()
    assert job.held_events == 0
    assert during > 2_000_000  # 40k events held: megabytes of columns
    assert after < during // 10


def test_an_order_id_holding_a_newline_joins_only_its_own_payment() -> None:
    ids = ["x\ny", "x", "y", "a\n\nb"]
    _, pairs = _run(
        *[_b(i, partition=0) for i in ids], *[_p(i, T0 + 1_000, partition=0) for i in ids]
    )
    assert sorted((p.booking["order_id"], p.payment["order_id"]) for p in pairs) == sorted(
        (i, i) for i in ids
    )


def test_a_partition_first_heard_from_late_is_taken_to_arrive_with_the_slowest_one() -> None:
    """The job reads every partition as it goes: a partition that shows up only now cannot
    be further behind than the slowest one already known, so its first event is judged late
    against that clock, not against its own older enqueued time."""
    job = StreamJob(OrderingPolicy(late_arrival_s=60, out_of_order_s=10))
    ten_minutes = T0 + 600_000
    job.feed(Arrival("booking", encode(sample_booking("o-a", ten_minutes)), ten_minutes, 0))
    job.feed(_p("o-a", ten_minutes, arrival_ms=ten_minutes, partition=0))
    newcomer = Arrival("booking", encode(sample_booking("o-b", T0)), T0, 1)  # enqueued at T0
    job.feed(newcomer)
    assert job.counts["adjusted:booking.late"] == 1  # taken as arriving ten minutes on
    pairs = job.feed(_p("o-b", T0 + 30_000, arrival_ms=ten_minutes, partition=2))
    assert [p.joined_at_ms for p in pairs] == [T0 + 540_000]  # both adjusted to arrival - 60 s
    assert pairs[0].order_row()["payment_delay_ms"] == 30_000  # the payload keeps its times


def test_without_a_late_arrival_policy_nothing_is_let_go_before_the_end() -> None:
    job = StreamJob(OrderingPolicy(late_arrival_s=-1))
    for i in range(600):  # every 10 s for 100 minutes, none paid
        at = T0 + i * 10_000
        job.feed(Arrival("booking", encode(sample_booking(f"o-{i}", at)), at, i % 4))
    job.advance(T0 + 7_200_000)
    assert job.held_events == 600
    job.flush()
    assert job.held_events == 0 and job.counts["unmatched:booking"] == 600
