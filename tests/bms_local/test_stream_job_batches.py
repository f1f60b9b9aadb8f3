"""The reference job joins a batch at a time: same answer as the query's definition, however fed.

The oracle here is written from the query, not from the job: an event is usable when the exact
``TRY_CAST`` path keeps it, its time is what the ordering policy gives it event by event on its
partition input (:meth:`Timeline.admit`), and every (booking, payment) of one order on one
partition whose adjusted times are 0..900 s apart is a pair.
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections import defaultdict
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bms_core.contract import encode
from bms_core.generator import stream
from bms_core.partitioning import partition_for
from bms_core.projection import wire_time_ms
from bms_core.scenario import Scenario
from bms_local.stream_job import Arrival, OrderingPolicy, StreamJob
from bms_local.stream_job import state as join_state
from bms_local.stream_job.clean import clean_booking, clean_payment, decode
from bms_local.stream_job.intake import wire_times_ms
from bms_local.stream_job.policy import Timeline
from bms_local.stream_job.samples import sample_booking, sample_payment

START_MS = 1_795_946_400_000  # 2026-11-29T10:00:00Z
WINDOW_MS = 900_000


def _traffic(orders: int, seed: int, per_minute: float = 600) -> list[Arrival]:
    """Generated events with duplicates and malformed extras, delivered late, out of order,
    on explicit or routed partitions."""
    scenario = Scenario(
        seed=seed, duplicate_rate=0.05, malformed_rate=0.03, orders_per_minute=per_minute
    )
    rng = random.Random(seed)
    arrivals = []
    for e in stream(scenario, START_MS, orders):
        delay = rng.choice([0, 0, 0, 400, 3_000, 20_000, 90_000, 400_000])
        partition = None if rng.random() < 0.7 else partition_for(e.partition_key, 4)
        arrivals.append(Arrival(e.kind, e.body, e.due_ms + delay, partition))
    arrivals.sort(key=lambda a: (a.arrival_ms or 0) + rng.randint(-15_000, 15_000))
    return arrivals


def _oracle(arrivals: list[Arrival], policy: OrderingPolicy) -> list[tuple[Any, ...]]:
    """Every pair the query defines, as ``(partition, booking event_id, payment event_id,
    joined_at_ms)``, in no particular order."""
    timelines: dict[tuple[int, str], Timeline] = defaultdict(lambda: Timeline(policy))
    held: dict[tuple[int, str, str], list[tuple[int, object]]] = defaultdict(list)
    for kind, body, arrival_ms, partition in arrivals:
        record = decode(body)
        clean = (
            None
            if record is None
            else (clean_booking if kind == "booking" else clean_payment)(record)
        )
        if clean is None or isinstance(clean, str):
            continue
        partition = partition_for(clean.order_id, 4) if partition is None else partition
        t, causes = timelines[(partition, kind)].admit(
            clean.event_ms, clean.event_ms if arrival_ms is None else arrival_ms
        )
        if causes and not policy.adjust:
            continue
        held[(partition, clean.order_id, kind)].append((t, clean.event_id))
    pairs = []
    for (partition, order_id, kind), bookings in held.items():
        if kind != "booking":
            continue
        for tb, booking_id in bookings:
            for tp, payment_id in held.get((partition, order_id, "payment"), []):
                if 0 <= tp - tb <= WINDOW_MS:
                    pairs.append((partition, booking_id, payment_id, max(tb, tp)))
    return pairs


def _key(pair: Any) -> tuple[Any, ...]:
    return (
        pair.partition,
        pair.booking.get("event_id"),
        pair.payment.get("event_id"),
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
    for sizes in ([len(arrivals)], [7, 300, 1, 64], [4096]):
        pairs, batch_counts = _run(arrivals, policy, sizes)
        assert pairs == one_by_one  # same pairs in the same order
        assert batch_counts == counts  # rejects, adjustments, duplicates, unmatched
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
def test_a_partition_far_behind_keeps_its_events_while_another_runs_ahead(batch: int) -> None:
    """Eviction limits are per partition input: two hours of traffic on partition 1 evict
    nothing of partition 0, whose payment still joins its booking however the traffic is
    batched."""
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
    late = encode(sample_payment(sample_booking("o-behind", START_MS), START_MS + 60_000))
    pairs = job.feed(Arrival("payment", late, START_MS + 60_000, 0))
    assert [(p.booking["order_id"], p.partition) for p in pairs] == [("o-behind", 0)]


def test_evicted_events_bodies_are_released_with_them() -> None:
    scenario = Scenario(seed=3, orders_per_minute=20)  # over an hour: most state is evicted
    arrivals = [Arrival(e.kind, e.body, e.due_ms, 0) for e in stream(scenario, START_MS, 1_500)]
    idle = [sys.getrefcount(a.body) for a in arrivals]
    job = StreamJob()
    for start in range(0, len(arrivals), 97):
        job.feed_all(arrivals[start : start + 97])
    kept = sum(sys.getrefcount(a.body) > r for a, r in zip(arrivals, idle, strict=True))
    assert 0 < job.held_events < len(arrivals) // 4
    assert kept == job.held_events  # nothing evicted is still referenced by the job
    job.flush()
    assert sum(sys.getrefcount(a.body) > r for a, r in zip(arrivals, idle, strict=True)) == 0


def test_an_order_hash_collision_joins_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        join_state, "order_hashes", lambda words: np.zeros(words.shape[1], dtype=np.int64)
    )
    arrivals = _traffic(300, seed=5)
    policy = OrderingPolicy()
    pairs, _ = _run(arrivals, policy, [100])
    assert sorted(pairs) == sorted(_oracle(arrivals, policy))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 200_000), st.integers(0, 200_000)), min_size=0, max_size=40),
    st.integers(-1, 90),
    st.integers(0, 30),
    st.integers(1, 400),
    st.integers(1, 40),
)
def test_admitting_many_at_once_equals_admitting_one_by_one(
    events: list[tuple[int, int]], late_s: int, ooo_s: int, early_s: int, cut: int
) -> None:
    policy = OrderingPolicy(late_arrival_s=late_s, out_of_order_s=ooo_s, early_arrival_s=early_s)
    one, many = Timeline(policy), Timeline(policy)
    for start in range(0, len(events), cut):
        chunk = events[start : start + cut]
        expected = [one.admit(e, a) for e, a in chunk]
        times, late, early, ooo = many.admit_many(
            np.array([e for e, _ in chunk], dtype=np.int64),
            np.array([a for _, a in chunk], dtype=np.int64),
        )
        marks = zip(late.tolist(), early.tolist(), ooo.tolist(), strict=True)
        causes = [
            tuple(c for c, hit in zip(("late", "early", "out_of_order"), m, strict=True) if hit)
            for m in marks
        ]
        assert list(zip(times.tolist(), causes, strict=True)) == expected
        state = (many.max_event_ms, many.max_arrival_ms, many.watermark)
        assert state == (one.max_event_ms, one.max_arrival_ms, one.watermark)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.datetimes().map(
                lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"
            ),
            st.text(alphabet="0123456789-:.TZ ", min_size=24, max_size=24),
        ),
        max_size=30,
    )
)
def test_times_parsed_together_agree_with_the_one_by_one_parser(texts: list[str]) -> None:
    texts = [t for t in texts if len(t) == 24]
    # times that share their year and month (as a batch's nearly always do) take a shortcut
    same_month = [texts[0][:8] + t[8:] for t in texts]
    for run in (texts, same_month, texts[::-1], texts[:1]):
        ms, valid = wire_times_ms(run)
        for text, value, ok in zip(run, ms.tolist(), valid.tolist(), strict=True):
            one = wire_time_ms(text)
            if ok:
                assert one == value, text
            elif one is not None:  # only pre-1970 times are left to the one-by-one parser
                assert int(text[:4]) < 1970, text


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
    [
        ("arrival_ms", "10:00"),
        ("arrival_ms", [START_MS]),
        ("partition", 1.5),
        ("partition", 2**70),
        ("partition", 2**63),
    ],
)
def test_a_bad_enqueued_time_or_partition_is_named_and_nothing_of_the_batch_is_taken(
    field: str, value: object
) -> None:
    good = Arrival("booking", encode(sample_booking("o-1", START_MS)), START_MS, 0)
    job = StreamJob()
    with pytest.raises(ValueError, match=f"Arrival.{field} .* got {re.escape(repr(value))}$"):
        job.feed_all([good, good._replace(**{field: value})])
    assert not job.counts and job.held_events == 0
    assert len(job.feed_all([good])) == 0 and job.counts["in:booking"] == 1  # still usable


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
def test_an_unknown_input_kind_is_named_and_nothing_of_the_batch_is_taken(
    kinds: tuple[Any, ...],
) -> None:
    body = encode(sample_booking("o-1", START_MS))
    bad = next(kind for kind in kinds if kind not in ("booking", "payment"))
    job = StreamJob()
    with pytest.raises(ValueError, match=f"Arrival.kind .* got {re.escape(repr(bad))}$"):
        job.feed_all([Arrival(kind, body, START_MS, 0) for kind in kinds])
    assert not job.counts and job.held_events == 0


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
