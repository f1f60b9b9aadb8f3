"""Fanned-out bursts, in memory: chunks, payment windows, fan-out, progress and poison."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import azure.functions as func
import pytest

from bms_core import flash, timefmt
from bms_core.flash import items
from bms_core.flash.layout import PAYMENT_WINDOW_MS, BurstSpec
from bms_core.functions import routes as endpoints
from bms_core.traffic import generator
from bms_core.traffic.payments import MAX_ATTEMPTS
from tests.bms_core.invocation import Collector, app_settings, http

NOW = 1_795_000_003_456


class Manifests:
    def __init__(self) -> None:
        self.put_manifests: list[Any] = []

    def put(self, manifest: Any) -> None:
        self.put_manifests.append(manifest)


def start(
    orders: int, over_seconds: int = 0, chunk_orders: int = 5000
) -> tuple[Any, dict[str, Any], flash.MemoryWorkQueue, flash.MemoryProgressStore]:
    settings = app_settings({"BMS_BURST_CHUNK_ORDERS": str(chunk_orders)})
    queue = flash.MemoryWorkQueue(now_ms=lambda: NOW)
    progress = flash.MemoryProgressStore()
    body = json.dumps({"orders": orders, "over_seconds": over_seconds}).encode()
    bookings, payments = Collector(), Collector()
    response = endpoints.run_burst(
        http("POST", "burst", body),
        bookings,
        payments,
        settings=settings,
        manifests=Manifests(),
        queue=queue,
        progress=progress,
        now_ms=NOW,
    )
    assert response.status_code == 202, response.get_body()
    assert bookings.get() is None and payments.get() is None  # fanned out: nothing inline
    return settings, json.loads(response.get_body()), queue, progress


def drain(
    settings: Any, queue: flash.MemoryWorkQueue, progress: Any, now: int, until: int
) -> tuple[list[tuple[int, str]], list[tuple[int, str]], int]:
    """Run items as they become visible on a simulated clock; ``(send ms, body)`` per event."""
    bookings: list[tuple[int, str]] = []
    payments: list[tuple[int, str]] = []
    most = 0
    while now <= until:
        for text in queue.take_due(now):
            queue.now_ms = lambda now=now: now  # type: ignore[misc]
            result = flash.run_work_item(
                text, settings.scenario, queue=queue, progress=progress, now_ms=now
            )
            bookings += [(now, b) for b in result.bookings]
            payments += [(now, p) for p in result.payments]
            most = max(most, len(result.bookings) + len(result.payments))
        now += 1000
    return bookings, payments, most


def _ids(sent: list[tuple[int, str]]) -> Counter[str]:
    out: Counter[str] = Counter()
    for _, body in sent:
        try:
            out[json.loads(body)["event_id"]] += 1
        except (ValueError, KeyError):
            continue  # the generator's deliberately malformed extras
    return out


def test_a_20000_order_burst_sends_every_booking_and_payment_once_plus_duplicates() -> None:
    settings, answer, queue, progress = start(20_000)
    assert answer["chunks"] == 4
    burst_id = answer["burst_id"]
    bookings, payments, most = drain(
        settings, queue, progress, NOW, NOW + generator.MAX_PAYMENT_DELAY_MS + 20_000
    )
    orders = generator.burst_orders(settings.scenario, burst_id, 20_000, NOW - NOW % 1000)
    booked = _ids(bookings)
    assert set(booked) == {o.booking.event_id for o in orders}
    duplicated = sum(n - 1 for n in booked.values())
    assert 0 < duplicated < 20_000 * 0.05  # the scenario's deliberate duplicates only
    truth = {p.event_id: timefmt.parse_ms(p.payment_time) for o in orders for p in o.payments}
    paid = _ids(payments)
    assert set(paid) == set(truth)
    for sent_ms, body in bookings + payments:
        if body.startswith("{") and body.endswith("}"):
            event = json.loads(body)
            time = event.get("booking_time") or event.get("payment_time")
            assert timefmt.parse_ms(time) <= sent_ms  # never in the future of its send
    for sent_ms, body in payments:
        with_id = json.loads(body) if body.endswith("}") else {}
        if with_id.get("event_id") in truth:
            assert sent_ms - truth[with_id["event_id"]] <= PAYMENT_WINDOW_MS + 1000
    assert most <= 5000 * (1 + MAX_ATTEMPTS) * 1.1
    got = progress.read(burst_id)
    assert got is not None
    status = got.as_json()
    assert status["status"] == "done"
    assert status["chunks"] == {"total": 4, "done": 4, "failed": 0, "pending": 0}
    assert status["bookings_sent"] == len(bookings)
    assert status["payments_sent"] == len(payments)
    assert status["expected_end_is_exact"] is True


def test_a_chunk_delivered_twice_sends_identical_events() -> None:
    settings, answer, queue, progress = start(12_000)
    texts = queue.take_due(NOW)
    assert len(texts) == 3
    first = flash.run_work_item(
        texts[1], settings.scenario, queue=queue, progress=progress, now_ms=NOW + 5
    )
    again = flash.run_work_item(
        texts[1], settings.scenario, queue=queue, progress=progress, now_ms=NOW + 5
    )
    assert first.bookings == again.bookings and first.payments == again.payments
    assert len(first.bookings) >= 5000
    read = progress.read(answer["burst_id"])
    assert read is not None and read.as_json()["chunks"]["done"] == 1


def test_over_seconds_spreads_chunk_visibility_and_booking_times_evenly() -> None:
    settings, answer, queue, _ = start(40_000, over_seconds=80)
    spec = BurstSpec(answer["burst_id"], 7, 40_000, 5000, NOW - NOW % 1000, 80, {})
    assert answer["chunks"] == 8
    # 8 chunks fit one fan-out step: each hidden until its slice of the 80 s starts.
    visible = sorted(at for at, _ in queue.items)
    anchor = NOW - NOW % 1000
    assert [spec.chunk_anchor_ms(k) - anchor for k in range(8)] == [
        0,
        10_000,
        20_000,
        30_000,
        40_000,
        50_000,
        60_000,
        70_000,
    ]
    # Whole seconds of delay, rounded up from the POST's moment.
    assert visible == [NOW] + [
        NOW + 1000 * -(-(spec.chunk_anchor_ms(k) - NOW) // 1000) for k in range(1, 8)
    ]
    assert answer["last_booking"] == timefmt.format_ms(anchor + 70_000)
    text = next(t for at, t in queue.items if at == visible[3])
    item = items.decode(text)
    assert isinstance(item, items.ChunkItem) and item.chunk == 3
    with pytest.raises(flash.NotDueYet):
        flash.run_work_item(
            text,
            settings.scenario,
            queue=flash.MemoryWorkQueue(),
            progress=flash.MemoryProgressStore(),
            now_ms=anchor + 29_000,
        )
    result = flash.run_work_item(
        text,
        settings.scenario,
        queue=flash.MemoryWorkQueue(),
        progress=flash.MemoryProgressStore(),
        now_ms=anchor + 30_000,
    )
    times = [
        timefmt.parse_ms(json.loads(b)["booking_time"])
        for b in result.bookings
        if b.endswith("}") and "booking_time" in b
    ]
    assert anchor + 29_000 < min(times) and max(times) <= anchor + 30_000


def test_a_large_burst_fans_out_in_steps_of_at_most_16_items() -> None:
    settings, answer, queue, progress = start(1_000_000)
    assert answer["chunks"] == 200
    top = queue.take_due(NOW)
    assert len(top) == 16
    fanout = items.decode(top[0])
    assert isinstance(fanout, items.FanOutItem)
    result = flash.run_work_item(
        top[0], settings.scenario, queue=queue, progress=progress, now_ms=NOW
    )
    assert result.enqueued == fanout.end - fanout.first <= 16
    assert not result.bookings
    status = progress.read(answer["burst_id"])
    assert status is not None
    assert status.as_json()["chunks"] == {"total": 200, "done": 0, "failed": 0, "pending": 200}


def test_poisoned_items_show_as_failed_in_progress() -> None:
    _, answer, queue, progress = start(1_000_000)
    top = queue.take_due(NOW)
    assert "failed" in flash.record_poisoned(top[0], progress=progress)
    chunk = items.encode(items.ChunkItem(items.decode(top[1]).spec, 199))
    flash.record_poisoned(chunk, progress=progress)
    status = progress.read(answer["burst_id"])
    assert status is not None
    chunks = status.as_json()["chunks"]
    first = items.decode(top[0])
    assert isinstance(first, items.FanOutItem)
    assert chunks["failed"] == first.end - first.first + 1
    assert chunks["pending"] == 200 - chunks["failed"]
    assert status.as_json()["status"] == "running with failures"
    assert flash.record_poisoned(b"not json", progress=progress).startswith("unreadable")


@pytest.mark.parametrize(
    "text",
    [b"", b"{}", b'{"v": 2}', b'{"v": 1, "kind": "chunk"}', b"\xff", b"[1]"],
)
def test_a_message_that_is_not_a_work_item_is_refused_by_name(text: bytes) -> None:
    with pytest.raises(items.BadWorkItem, match="not a burst work item"):
        items.decode(text)


def test_work_items_round_trip_and_payment_positions_survive_the_bitmap() -> None:
    spec = BurstSpec(
        "bexample001", 3, 20_001, 5000, NOW - NOW % 1000, 60, {"late_payment_rate": 0.1}
    )
    for item in (
        items.ChunkItem(spec, 4),
        items.FanOutItem(spec, 1, 3),
        items.PaymentsItem(spec, 2, 179_500_001, (0, 1, 77, 4999)),
    ):
        assert items.decode(items.encode(item)) == item


class ActiveBursts:
    def __init__(self, manifests: list[Any]) -> None:
        self.manifests = manifests

    def active(self, start_ms: int, end_ms: int, max_delay_ms: int) -> list[Any]:
        return self.manifests


def test_a_payments_tick_over_its_bound_fans_the_rest_out_through_the_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ten inline bursts of 2,000 orders pay in the same minute; the tick writes a bounded
    share and hands the rest to payments items, which send exactly the missing payments."""
    from bms_core.functions import bursts
    from bms_core.functions import timers as emit
    from tests.bms_core.invocation import timer

    settings = app_settings()
    anchor = NOW - NOW % 1000
    manifests = [
        bursts.BurstManifest(f"btick{n:06d}", 7, 2000, anchor, {}, anchor, anchor, 0, 2000, NOW)
        for n in range(10)
    ]
    monkeypatch.setattr(emit, "TICK_BURST_PAYMENTS_MAX", 1500)
    start, end = anchor - anchor % 10_000 + 60_000, anchor - anchor % 10_000 + 120_000
    queue = flash.MemoryWorkQueue(now_ms=lambda: end)
    out = Collector()
    report = emit.run_emit_payments(
        timer(start, next_ms=end),
        out,
        settings=settings,
        manifests=ActiveBursts(manifests),
        now_ms=end + 1,
        queue=queue,
    )
    inline = [b for b in out.get() if '"btick' in b]
    assert 0 < len(inline) <= 1500
    assert report.fanned_out == len(queue.items) > 0
    sent = list(inline)
    for text in queue.take_due(end):
        result = flash.run_work_item(
            text,
            settings.scenario,
            queue=queue,
            progress=flash.MemoryProgressStore(),
            now_ms=end,
        )
        assert len(result.payments) <= 2000 * MAX_ATTEMPTS
        sent += result.payments
    expected = [
        e.body.decode()
        for m in manifests
        for e in generator.burst_payments_to_send(
            bursts.scenario_of(settings.scenario, m), m.burst_id, 2000, anchor, start, end
        )
    ]
    assert sorted(sent) == sorted(expected)


@pytest.mark.parametrize(
    ("method", "burst_id", "status", "field"),
    [
        ("GET", "not-a-burst", 400, "burst_id"),
        ("GET", "bunknown0001", 404, "burst_id"),
        ("POST", "bunknown0001", 405, "method"),
    ],
)
def test_burst_progress_answers_bad_and_unknown_ids_by_name(
    method: str, burst_id: str, status: int, field: str
) -> None:
    req = func.HttpRequest(
        method=method,
        url=f"http://localhost/api/burst/{burst_id}",
        route_params={"burst_id": burst_id},
        body=b"",
    )
    response = endpoints.run_burst_status(req, progress=flash.MemoryProgressStore())
    assert response.status_code == status
    assert json.loads(response.get_body())["field"] == field


def test_burst_progress_answers_503_when_storage_is_unreadable() -> None:
    class Broken:
        def read(self, burst_id: str) -> None:
            raise ConnectionError("storage down")

    req = func.HttpRequest(
        method="GET",
        url="http://localhost/api/burst/bsomeburst01",
        route_params={"burst_id": "bsomeburst01"},
        body=b"",
    )
    response = endpoints.run_burst_status(req, progress=Broken())
    assert response.status_code == 503
    assert "storage down" in json.loads(response.get_body())["error"]


def _fanned(orders: int, over_seconds: int, anchor: int) -> Any:
    from bms_core.functions import bursts

    spec = BurstSpec("bfanned0001", 7, orders, 5000, anchor, over_seconds, {})
    return bursts.BurstManifest(
        spec.burst_id,
        7,
        orders,
        anchor,
        {},
        anchor - 1000,
        spec.last_booking_ms + generator.MAX_PAYMENT_DELAY_MS,
        0,
        0,
        anchor,
        chunk_orders=5000,
        over_seconds=over_seconds,
    )


def test_the_payments_tick_leaves_a_fanned_out_burst_to_its_chunks() -> None:
    from bms_core.functions import timers as emit
    from tests.bms_core.invocation import timer

    anchor = NOW - NOW % 1000
    start = anchor - anchor % 10_000 + 10_000
    out = Collector()
    report = emit.run_emit_payments(
        timer(start, next_ms=start + 60_000),
        out,
        settings=app_settings(),
        manifests=ActiveBursts([_fanned(20_000, 0, anchor)]),
        now_ms=start + 60_001,
        queue=flash.MemoryWorkQueue(),
    )
    assert report.bursts == 0
    assert not [b for b in out.get() or [] if "bfanned" in b]


def test_reconcile_counts_a_fanned_out_burst_as_its_chunks_send_it() -> None:
    """Over 0 s a fanned-out burst holds the orders of an inline burst of the same size; spread
    over 90 s, its rows per minute are those of its chunks' own orders."""
    from bms_core.functions import bursts
    from bms_core.synapse import reconcile

    scenario = app_settings().scenario
    anchor = NOW - NOW % 1000
    start, end = anchor - anchor % 60_000, anchor - anchor % 60_000 + 20 * 60_000
    fanned = _fanned(12_000, 0, anchor)
    inline = bursts.BurstManifest("bfanned0001", 7, 12_000, anchor, {}, 0, 1, 0, 0, anchor)
    got = reconcile.expected_rows_per_minute(scenario, start, end, [fanned])
    assert got == reconcile.expected_rows_per_minute(scenario, start, end, [inline])
    assert sum(got.values()) > 12_000

    spread = _fanned(12_000, 90, anchor)
    spec = flash.spec_of(spread)
    burst_scenario = bursts.scenario_of(scenario, spread)
    want: Counter[int] = Counter()
    for chunk in range(spec.chunks):
        plans = generator.burst_chunk_plans(
            burst_scenario, spec.burst_id, spec.chunk_anchor_ms(chunk), spec.indexes(chunk)
        )
        for plan in plans:
            order = generator.order_of(burst_scenario, plan)
            booked = timefmt.parse_ms(order.booking.booking_time)
            for payment in order.payments:
                paid = timefmt.parse_ms(payment.payment_time)
                if start <= paid < end and 0 <= paid - booked <= 900_000:
                    want[(paid - start) // 60_000] += len(order.booking.event_details.seats)
    timer_orders = reconcile.expected_rows_per_minute(scenario, start, end, [])
    got = reconcile.expected_rows_per_minute(scenario, start, end, [spread])
    assert got - timer_orders == want
