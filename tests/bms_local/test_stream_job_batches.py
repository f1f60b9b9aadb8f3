"""The reference job gives the query's answer however it is fed: one by one, in batches, or
through ``process``; across partitions; for every shape of body.

The oracle here is written from the query's rules, not from the job: an event is usable when
the exact ``TRY_CAST`` path keeps it; its time is what the ordering policy gives it on its
input partition (enqueued times only grow on a partition; a partition first heard from starts
at the slowest known one's clock); and every booking and payment of one order, whatever their
partitions, whose adjusted times are 0..900 s apart is a pair, joined at the later time.
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections import defaultdict
from typing import Any

import pytest

from bms_core.contract import encode
from bms_core.generator import stream
from bms_core.scenario import Scenario
from bms_local.stream_job import Arrival, OrderingPolicy, StreamJob
from bms_local.stream_job.clean import clean_booking, clean_payment, decode
from bms_local.stream_job.samples import sample_booking, sample_payment

START_MS = 1_795_946_400_000  # 2026-11-29T10:00:00Z
WINDOW_MS = 900_000


def _traffic(orders: int, seed: int, per_minute: float = 600) -> list[Arrival]:
    """Generated events with duplicates and malformed extras, delivered late, out of order,
    each on a partition of its own choosing (keyless batches land anywhere)."""
    scenario = Scenario(
        seed=seed, duplicate_rate=0.05, malformed_rate=0.03, orders_per_minute=per_minute
    )
    rng = random.Random(seed)
    arrivals = []
    for e in stream(scenario, START_MS, orders):
        delay = rng.choice([0, 0, 0, 400, 3_000, 20_000, 90_000, 400_000])
        partition = rng.choice([None, 0, 1, 2, 3])
        arrivals.append(Arrival(e.kind, e.body, e.due_ms + delay, partition))
    arrivals.sort(key=lambda a: (a.arrival_ms or 0) + rng.randint(-15_000, 15_000))
    return arrivals


def _oracle(arrivals: list[Arrival], policy: OrderingPolicy) -> list[tuple[Any, ...]]:
    """Every pair the query defines, as ``(booking event_id, payment event_id, booking
    partition, payment partition, joined_at_ms)``, in no particular order."""
    late, ooo = policy.late_arrival_s * 1000, policy.out_of_order_s * 1000
    early = policy.early_arrival_s * 1000
    clock: dict[tuple[int, str], int] = {}
    newest: dict[tuple[int, str], int] = {}
    held: dict[tuple[str, str], list[tuple[int, object, int]]] = defaultdict(list)
    for kind, body, arrival_ms, partition in arrivals:
        record = decode(body)
        clean = (
            None
            if record is None
            else (clean_booking if kind == "booking" else clean_payment)(record)
        )
        if clean is None or isinstance(clean, str):
            continue
        where = (partition or 0, kind)
        arrival = clean.event_ms if arrival_ms is None else arrival_ms
        if where not in clock:
            clock[where] = min(clock.values(), default=arrival)
        arrival = clock[where] = max(clock[where], arrival)
        t, changed = clean.event_ms, False
        if late >= 0 and t < arrival - late:
            t, changed = arrival - late, True
        elif t > arrival + early:
            t, changed = arrival + early, True
        if where in newest and t < newest[where] - ooo:
            t, changed = newest[where] - ooo, True
        if changed and not policy.adjust:
            continue
        newest[where] = max(newest.get(where, t), t)
        held[(clean.order_id, kind)].append((t, clean.event_id, partition or 0))
    pairs = []
    for (order_id, kind), bookings in held.items():
        if kind != "booking":
            continue
        for tb, booking_id, booking_partition in bookings:
            for tp, payment_id, payment_partition in held.get((order_id, "payment"), []):
                if 0 <= tp - tb <= WINDOW_MS:
                    pair = (booking_id, payment_id, booking_partition, payment_partition)
                    pairs.append((*pair, max(tb, tp)))
    return pairs


def _key(pair: Any) -> tuple[Any, ...]:
    return (
        pair.booking.get("event_id"),
        pair.payment.get("event_id"),
        pair.booking_partition,
        pair.payment_partition,
        pair.joined_at_ms,
    )


def _run(arrivals: list[Arrival], policy: OrderingPolicy, sizes: list[int]) -> tuple[list, dict]:
    job = StreamJob(policy)
    pairs = []
    at = 0
    for i in range(len(arrivals)):
        if at >= len(arrivals):
            break
        size = sizes[i % len(sizes)]
        pairs += [_key(p) for p in job.feed_all(arrivals[at : at + size])]
        at += size
    job.flush()
    return pairs, dict(job.counts)


@pytest.mark.parametrize(
    "policy",
    [
        OrderingPolicy(),
        OrderingPolicy(late_arrival_s=5, out_of_order_s=0),
        OrderingPolicy(late_arrival_s=60, out_of_order_s=10, adjust=False),
    ],
    ids=["adjust-60-10", "adjust-5-0", "drop-60-10"],
)
def test_pairs_equal_the_querys_definition_and_do_not_depend_on_batching(
    policy: OrderingPolicy,
) -> None:
    arrivals = _traffic(1_500, seed=3)
    expected = sorted(_oracle(arrivals, policy))
    assert len(expected) > 150  # the Drop policy discards much of this late traffic
    one_by_one, counts = _run(arrivals, policy, [1])
    assert sorted(one_by_one) == expected
    assert any(b != p for _, _, b, p, _ in expected)  # pairs across partitions
    for sizes in ([len(arrivals)], [7, 300, 1, 64], [4096]):
        pairs, batch_counts = _run(arrivals, policy, sizes)
        assert pairs == one_by_one  # same pairs in the same order
        assert batch_counts == counts  # rejects, adjustments, duplicates, unmatched
    job = StreamJob(policy)
    assert [_key(p) for p in job.process(arrivals)] == one_by_one
    assert (
        counts["rejected:booking.not_json_object"]
        + counts.get("rejected:payment.not_json_object", 0)
        > 0
    )


def test_a_repeated_event_id_counts_as_a_duplicate_only_within_the_window() -> None:
    booking = encode(sample_booking("o-1", START_MS))
    payment = encode(sample_payment(sample_booking("o-1", START_MS), START_MS + 1_000))
    job = StreamJob(OrderingPolicy(late_arrival_s=3_600, out_of_order_s=3_600))
    job.feed(Arrival("booking", booking, START_MS, 0))
    job.feed(Arrival("payment", payment, START_MS + 1_000, 0))
    job.feed(Arrival("payment", payment, START_MS + 1_000, 0))  # redelivered at once
    assert job.counts["duplicate:payment"] == 1
    # the same booking id again, its time 16 minutes on: a new event, not a redelivery
    again = booking.replace(b"T10:00:00.000Z", b"T10:16:00.000Z", 1)
    assert again != booking
    job.feed(Arrival("booking", again, START_MS + 960_000, 0))
    assert job.counts["duplicate:booking"] == 0


@pytest.mark.parametrize("batch", [1, 7, 400])
def test_eviction_waits_for_the_slowest_partition(batch: int) -> None:
    """Two hours of traffic on partition 1 evict nothing while partition 0 is still at its
    first minute: a payment on partition 0, or on a partition first heard from now, still
    joins the booking it sent, however the traffic is batched. Once partition 0 is idle too,
    the booking goes."""
    job = StreamJob()
    job.feed(Arrival("booking", encode(sample_booking("o-behind", START_MS)), START_MS, 0))
    ahead = []
    for i in range(200):  # every 36 s for two hours
        at = START_MS + 36_000 * i
        booking = sample_booking(f"o-ahead-{i}", at)
        ahead += [
            Arrival("booking", encode(booking), at, 1),
            Arrival("payment", encode(sample_payment(booking, at + 5_000)), at + 5_000, 1),
        ]
    ahead_pairs = [p for at in range(0, 400, batch) for p in job.feed_all(ahead[at : at + batch])]
    assert len(ahead_pairs) == 200
    behind = sample_booking("o-behind", START_MS)
    first = encode(sample_payment(behind, START_MS + 60_000))
    second = encode(sample_payment(behind, START_MS + 70_000, attempt=2))
    pairs = job.feed(Arrival("payment", first, START_MS + 60_000, 0))
    pairs += job.feed(Arrival("payment", second, START_MS + 70_000, 2))
    found = [(p.payment["attempt"], p.booking_partition, p.payment_partition) for p in pairs]
    assert found == [(1, 0, 0), (2, 0, 2)]
    job.advance(START_MS + 36_000 * 200)
    assert job.held_events < 100  # the last 960 s of partition 1's traffic
    assert "unmatched:booking" not in job.counts  # every booking went with its pairs


def test_evicted_events_bodies_are_released_with_them() -> None:
    scenario = Scenario(seed=3, orders_per_minute=20)  # over two hours: most state is evicted
    arrivals = [Arrival(e.kind, e.body, e.due_ms, 0) for e in stream(scenario, START_MS, 3_000)]
    idle = [sys.getrefcount(a.body) for a in arrivals]
    job = StreamJob()
    for start in range(0, len(arrivals), 97):
        job.feed_all(arrivals[start : start + 97])
    kept = sum(sys.getrefcount(a.body) > r for a, r in zip(arrivals, idle, strict=True))
    assert 0 < job.held_events < len(arrivals) // 4
    assert kept == job.held_events  # nothing evicted is still referenced by the job
    job.flush()
    assert sum(sys.getrefcount(a.body) > r for a, r in zip(arrivals, idle, strict=True)) == 0


def test_repeats_are_found_whatever_json_value_the_event_id_is() -> None:
    payment = json.loads(encode(sample_payment(sample_booking("o-1", START_MS), START_MS + 1_000)))
    odd_ids = [["o-1", 1], {"id": "o-1-p1", "n": [1, 2]}, 7, None]
    arrivals = [Arrival("booking", encode(sample_booking("o-1", START_MS)), START_MS, 0)]
    for event_id in odd_ids:
        body = json.dumps({**payment, "event_id": event_id}).encode()
        arrivals += [Arrival("payment", body, START_MS + 1_000, 0)] * 2
    for sizes in ([1], [len(arrivals)]):
        job = StreamJob()
        pairs = [
            p
            for at in range(0, len(arrivals), sizes[0])
            for p in job.feed_all(arrivals[at : at + sizes[0]])
        ]
        assert len(pairs) == 2 * len(odd_ids)
        assert job.counts["duplicate:payment"] == len(odd_ids)


@pytest.mark.parametrize(
    ("field", "value"),
    [("arrival_ms", "10:00"), ("arrival_ms", [START_MS]), ("partition", 1.5), ("partition", "1")],
)
def test_a_bad_enqueued_time_or_partition_is_named_and_the_event_not_taken(
    field: str, value: object
) -> None:
    good = Arrival("booking", encode(sample_booking("o-1", START_MS)), START_MS, 0)
    job = StreamJob()
    with pytest.raises(ValueError, match=f"Arrival.{field} .* got {re.escape(repr(value))}$"):
        job.feed_all([good, good._replace(**{field: value})])
    assert job.counts["in:booking"] == 1 and job.held_events == 1  # the one before it
    payment = encode(sample_payment(sample_booking("o-1", START_MS), START_MS + 1_000))
    assert len(job.feed(Arrival("payment", payment, START_MS + 1_000, 3))) == 1  # still usable


@pytest.mark.parametrize(
    "kinds",
    [
        ("booking", "bookings"),
        ("bookin", "gpayment"),  # their text lines up with two good names
        ("booking\npayment", ""),
        ("booking", None),
        ("Payment", "booking"),
    ],
)
def test_an_unknown_input_kind_is_named_and_the_event_not_taken(
    kinds: tuple[Any, ...],
) -> None:
    body = encode(sample_booking("o-1", START_MS))
    bad = next(kind for kind in kinds if kind not in ("booking", "payment"))
    job = StreamJob()
    with pytest.raises(ValueError, match=f"Arrival.kind .* got {re.escape(repr(bad))}$"):
        job.feed_all([Arrival(kind, body, START_MS, 0) for kind in kinds])
    taken = kinds.index(bad)  # the arrivals before the bad one
    assert job.held_events == taken and sum(job.counts.values()) == taken


def test_long_order_ids_alike_but_in_the_middle_are_told_apart() -> None:
    first, second = ("o" * 16 + middle + "z" * 8 for middle in ("aaaaaa", "bbbbbb"))
    booking = encode(sample_booking(first, START_MS))
    other = json.loads(encode(sample_booking(second, START_MS)))
    other["event_id"] = json.loads(booking)["event_id"]  # one event id, but two orders
    payment = encode(sample_payment(sample_booking(second, START_MS), START_MS + 1_000))
    arrivals = [
        Arrival("booking", booking, START_MS, 0),
        Arrival("booking", json.dumps(other).encode(), START_MS, 0),
        Arrival("payment", payment, START_MS + 1_000, 0),
    ]
    for size in (1, len(arrivals)):
        job = StreamJob()
        pairs = [p for at in range(0, 3, size) for p in job.feed_all(arrivals[at : at + size])]
        assert [(p.booking["order_id"], p.payment["order_id"]) for p in pairs] == [(second, second)]
        assert job.counts["duplicate:booking"] == 0


@pytest.mark.parametrize(
    ("seats", "usable"),
    [([{"seat_number": "A1"}], True), ([1], True), ([None, []], True), ([], False), ("A1", False)],
)
def test_seats_need_only_be_a_non_empty_array_in_batches_as_one_by_one(
    seats: object, usable: bool
) -> None:
    arrivals = []
    for i in range(20):  # enough for a batch decode
        booking = json.loads(encode(sample_booking(f"o-{i}", START_MS)))
        payment = encode(sample_payment(sample_booking(f"o-{i}", START_MS), START_MS + 1_000))
        booking["event_details"]["seats"] = seats
        arrivals += [
            Arrival("booking", json.dumps(booking).encode(), START_MS, 0),
            Arrival("payment", payment, START_MS + 1_000, 0),
        ]
    for size in (1, len(arrivals)):
        job = StreamJob()
        pairs = [p for at in range(0, 40, size) for p in job.feed_all(arrivals[at : at + size])]
        assert len(pairs) == (20 if usable else 0)
        assert job.counts["rejected:booking.event_details.seats"] == (0 if usable else 20)


@pytest.mark.parametrize(
    ("seats_text", "usable"),
    [
        ("[ ]", False),
        ("[\n\t]", False),
        ('[ {"seat_number": "A1"} ]', True),
        ("[\r\n1]", True),
        ("[[]]", True),
        ("{}", False),
        ('"[]"', False),
        ("null", False),
        ("3", False),
    ],
)
def test_seats_written_with_whitespace_or_of_another_type_are_judged_alike_however_fed(
    seats_text: str, usable: bool
) -> None:
    """Only one booking's seats (order o-7's) are odd: the rest of its batch still joins."""
    arrivals = []
    for i in range(20):
        booking = json.loads(encode(sample_booking(f"o-{i}", START_MS)))
        body = json.dumps(booking).encode()
        if i == 7:
            booking["event_details"]["seats"] = "SEATS"
            body = json.dumps(booking).replace('"SEATS"', seats_text).encode()
        payment = encode(sample_payment(sample_booking(f"o-{i}", START_MS), START_MS + 1_000))
        arrivals += [
            Arrival("booking", body, START_MS, 0),
            Arrival("payment", payment, START_MS + 1_000, 0),
        ]
    for size in (1, len(arrivals)):
        job = StreamJob()
        pairs = [p for at in range(0, 40, size) for p in job.feed_all(arrivals[at : at + size])]
        joined = {p.booking["order_id"] for p in pairs}
        assert joined == {f"o-{i}" for i in range(20) if usable or i != 7}
        assert job.counts["rejected:booking.event_details.seats"] == (0 if usable else 1)


def test_times_a_batch_decode_cannot_parse_take_the_exact_path_in_batches_as_one_by_one() -> None:
    odd_times = {
        1: "2026-11-29 10:00:00.000Z",  # castable, not the wire format: joins
        2: "2026-02-30T10:00:00.000Z",  # no such day: rejected
        3: "2026-11-29T10:00:00.0Z  ",  # castable: joins
    }
    arrivals = []
    broken = (0, 77)  # not JSON: each fails the sub-batch it is in, the rest decode together
    for i in range(120):
        booking = json.loads(encode(sample_booking(f"o-{i}", START_MS)))
        booking["booking_time"] = odd_times.get(i % 5, booking["booking_time"])
        body = b"{not json" if i in broken else json.dumps(booking).encode()
        payment = encode(sample_payment(sample_booking(f"o-{i}", START_MS), START_MS + 1_000))
        arrivals += [
            Arrival("booking", body, START_MS, 0),
            Arrival("payment", payment, START_MS + 1_000, 0),
        ]
    results = []
    for size in (1, len(arrivals)):
        job = StreamJob()
        pairs = [
            (p.booking["order_id"], p.joined_at_ms)
            for at in range(0, len(arrivals), size)
            for p in job.feed_all(arrivals[at : at + size])
        ]
        results.append((sorted(pairs), dict(job.counts)))
    assert results[0] == results[1]
    pairs, counts = results[0]
    rejected_times = len([i for i in range(120) if i % 5 == 2 and i not in broken])
    assert counts["rejected:booking.booking_time"] == rejected_times
    assert counts["rejected:booking.not_json_object"] == len(broken)
    assert len(pairs) == 120 - rejected_times - len(broken)


def test_an_empty_order_id_is_rejected_in_batches_as_one_by_one() -> None:
    arrivals = []
    for i in range(40):
        order_id = "" if i % 3 == 0 else f"o-{i}"
        booking = json.loads(encode(sample_booking(f"o-{i}", START_MS)))
        payment = json.loads(
            encode(sample_payment(sample_booking(f"o-{i}", START_MS), START_MS + 1_000))
        )
        booking["order_id"] = payment["order_id"] = order_id
        arrivals += [
            Arrival(kind, json.dumps(body).encode(), START_MS, 0)
            for kind, body in (("booking", booking), ("payment", payment))
        ]
    for size in (1, len(arrivals)):
        job = StreamJob()
        pairs = [p for at in range(0, 80, size) for p in job.feed_all(arrivals[at : at + size])]
        assert len(pairs) == 26
        assert job.counts["rejected:booking.order_id"] == 14
        assert job.counts["rejected:payment.order_id"] == 14
