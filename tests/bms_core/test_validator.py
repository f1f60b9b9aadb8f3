"""validate_joined on real EventHubEvents: clean rows pass, every kind of tampering is named."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

import pytest

from bms_core import contract
from bms_core.functions import bursts
from bms_core.joined import check as jc
from bms_core.joined import validator
from bms_core.joined.columns import SEAT_COLUMNS, seat_column_names
from bms_core.traffic import generator
from tests.bms_core.invocation import Collector, app_settings, event

NOW = 1_795_000_003_000
SETTINGS = app_settings(
    {"BMS_VALIDATION_SAMPLE_RATE": "1", "BMS_DUPLICATE_RATE": "0", "BMS_LATE_PAYMENT_RATE": "0.3"}
)
SCENARIO = SETTINGS.scenario
Rows = list[dict[str, Any]]


WINDOW: Final = timedelta(seconds=900)
"""The contract's join window: 0 <= payment_time - booking_time <= 900 s."""
CATEGORIES: Final = {
    "Movie": "Cinema",
    "Concert": "Music",
    "Play": "Theatre",
    "Sports": "Sports",
    "Comedy": "Comedy",
}
PAYMENT_TYPES: Final = {
    "UPI": "UPI",
    "Credit Card": "Card",
    "Debit Card": "Card",
    "Net Banking": "NetBanking",
    "Wallet": "Wallet",
}
"""The query's CASE mappings, written out again here so the rows do not come from the code
under test."""


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _asa(t: datetime) -> str:
    """How ASA writes a datetime in JSON: seven fraction digits and a ``Z``."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}0000Z"


def _weekday(t: datetime) -> int:
    """DATEPART(weekday, t): 1 = Sunday ... 7 = Saturday."""
    return t.isoweekday() % 7 + 1


def clean_rows(booking: contract.Booking, payment: contract.Payment) -> Rows:
    """The seat rows the stream job should emit for a joined pair, built from the events and
    the contract's column list alone (not through the projection the validator uses)."""
    booked, paid = _utc(booking.booking_time), _utc(payment.payment_time)
    ist = booked + timedelta(minutes=330)
    details, customer = booking.event_details, booking.customer
    seats = details.seats
    fees_per_seat = (booking.total_amount - booking.ticket_subtotal) / len(seats)
    rows = []
    for index, seat in enumerate(seats):
        row = {
            "order_id": booking.order_id,
            "booking_event_id": booking.event_id,
            "payment_event_id": payment.event_id,
            "payment_id": payment.payment_id,
            "attempt": payment.attempt,
            "customer_id": customer.customer_id,
            "customer_name": customer.name,
            "customer_email": customer.email,
            "customer_city": customer.city,
            "event_id": details.event_id,
            "event_name": details.event_name,
            "event_type": details.event_type,
            "event_category": CATEGORIES.get(details.event_type, "Other"),
            "event_location": details.event_location,
            "venue_name": details.venue_name,
            "show_time": _asa(_utc(details.show_time)),
            "channel": booking.channel,
            "seat_index": index,
            "seat_count": len(seats),
            "seat_number": seat.seat_number,
            "seat_category": seat.category,
            "seat_price": float(seat.price),
            "seat_amount": float(seat.price + fees_per_seat),
            "currency": payment.currency,
            "payment_method": payment.payment_method,
            "payment_type": PAYMENT_TYPES.get(payment.payment_method, "Other"),
            "payment_status": payment.payment_status,
            "failure_reason": payment.failure_reason,
            "booking_time": _asa(booked),
            "payment_time": _asa(paid),
            "payment_delay_ms": (paid - booked) // timedelta(milliseconds=1),
            "booking_hour_utc": booked.hour,
            "booking_weekday_utc": _weekday(booked),
            "booking_hour_ist": ist.hour,
            "booking_weekday_ist": _weekday(ist),
            "joined_at": _asa(max(booked, paid)),
        }
        assert set(row) == set(seat_column_names()), "the builder covers the contract exactly"
        rows.append({name: row[name] for name in seat_column_names()})
    return rows


def _joins(booking: contract.Booking, payment: contract.Payment) -> bool:
    return timedelta(0) <= _utc(payment.payment_time) - _utc(booking.booking_time) <= WINDOW


def _pairs() -> list[tuple[Any, Any, Rows]]:
    """(order, payment, seat rows) for each pair of a few slots' timer orders."""
    out = []
    slot = generator.slot_at(SCENARIO, NOW) - 40
    for s in range(slot, slot + 3):
        for order in generator.orders_in(SCENARIO, s):
            for payment in order.payments:
                out.append((order, payment, clean_rows(order.booking, payment)))
    return out


PAIRS = _pairs()
JOINED = [p for p in PAIRS if _joins(p[0].booking, p[1])]
LATE = [p for p in PAIRS if p not in JOINED]


def packed(pairs: list[tuple[Any, Any, Rows]]) -> list[bytes]:
    """One event per pair, its seat rows line-separated, as ASA packs its Event Hub output."""
    return ["\n".join(json.dumps(r) for r in rows).encode() for _, _, rows in pairs]


def run(
    bodies: list[bytes], settings: Any = SETTINGS, manifests: Any = None
) -> tuple[validator.BatchResult, Collector, Collector]:
    findings, summary = Collector(), Collector()
    result = validator.run_validate_joined(
        [event(b, n) for n, b in enumerate(bodies)],
        findings,
        summary,
        settings,
        manifests=manifests or (lambda burst_id, anchor_ms: None),
        now_ms=NOW,
    )
    return result, findings, summary


def rules(result: validator.BatchResult) -> set[tuple[str, str]]:
    return {(f.rule, f.column) for f in result.findings}


def test_fixture_has_multi_seat_orders_and_late_payments() -> None:
    assert len(JOINED) > 20 and LATE
    assert any(len(rows) > 1 for _, _, rows in JOINED)


def test_clean_rows_give_no_findings_and_an_exact_summary() -> None:
    result, findings, summary = run(packed(JOINED))
    assert result.findings == []
    assert findings.value is None
    (row,) = summary.entities()
    total_rows = sum(len(rows) for _, _, rows in JOINED)
    assert row["rows"] == row["sampled"] == row["checked"] == total_rows
    assert row["money_checked"] == len(JOINED) and row["money_incomplete"] == 0
    assert row["findings"] == 0 and row["events"] == len(JOINED)
    assert row["RowKey"] == result.batch_id


def test_one_row_per_event_and_json_arrays_parse_like_line_separated_events() -> None:
    single = [json.dumps(r).encode() for _, _, rows in JOINED for r in rows]
    array = [json.dumps(rows).encode() for _, _, rows in JOINED]
    for bodies in (single, array):
        result, _, summary = run(bodies)
        assert result.findings == []
        assert summary.entities()[0]["checked"] == len(single)


def test_asa_and_millisecond_time_formats_and_money_as_text_compare_equal() -> None:
    _, _, rows = JOINED[0]
    row = dict(rows[0])
    row["booking_time"] = row["booking_time"].replace("0000Z", "Z")  # 3 fraction digits
    row["seat_price"] = f"{row['seat_price']:.2f}"
    result, _, _ = run([json.dumps(r if r is not rows[0] else row).encode() for r in rows])
    assert result.findings == []


def _tamper(column: str, change: Callable[[Any], Any]) -> tuple[list[bytes], str]:
    _order, payment, rows = next(p for p in JOINED if len(p[2]) >= 2)
    bad = [dict(r) for r in rows]
    bad[1][column] = change(bad[1][column])
    return [json.dumps(r).encode() for r in bad], f"{payment.payment_id}/1"


def _shift_time(text: str) -> str:
    return _asa(_utc(text.replace("0000Z", "Z")) + timedelta(milliseconds=1))


@pytest.mark.parametrize(
    ("column", "change", "rule"),
    [
        ("customer_name", lambda v: v + "x", "copied"),
        ("event_name", lambda v: v.upper() + "!", "copied"),
        ("show_time", _shift_time, "copied"),
        ("booking_event_id", lambda v: v + "x", "copied"),
        ("failure_reason", lambda v: "Timed out" if v is None else None, "copied"),
        ("event_category", lambda v: "Other" if v != "Other" else "Music", "derived"),
        ("payment_type", lambda v: "Wallet" if v != "Wallet" else "UPI", "derived"),
        ("booking_hour_ist", lambda v: (v + 1) % 24, "derived"),
        ("booking_weekday_utc", lambda v: v % 7 + 1, "derived"),
        ("payment_delay_ms", lambda v: v + 1, "derived"),
        ("seat_count", lambda v: v + 1, "derived"),
        ("seat_price", lambda v: round(v + 0.01, 2), "money"),
    ],
)
def test_each_tampered_column_fires_its_rule(
    column: str, change: Callable[[Any], Any], rule: str
) -> None:
    bodies, key = _tamper(column, change)
    result, findings, _ = run(bodies)
    assert (rule, column) in rules(result)
    hit = next(f for f in result.findings if f.column == column)
    assert hit.row_key == key
    assert hit.expected != hit.actual
    stored = findings.entities()
    assert {e["rule"] for e in stored} >= {rule}
    assert len({e["RowKey"] for e in stored}) == len(stored)


def test_a_wrong_seat_share_breaks_the_row_and_the_order_sum() -> None:
    bodies, _ = _tamper("seat_amount", lambda v: round(v + 0.01, 2))
    result, _, _ = run(bodies)
    money = [f for f in result.findings if f.rule == "money"]
    assert {f.column for f in money} == {"seat_amount"}
    assert any(f.row_key.endswith("/*") and "sum" in f.expected for f in money)


def test_a_row_outside_the_join_window_fires_the_window_rule() -> None:
    result, _, _ = run(packed(LATE[:1]))
    assert {f.rule for f in result.findings} == {"window"}


@pytest.mark.parametrize(
    ("change", "column"),
    [
        (lambda r: r.pop("customer_email"), "customer_email"),
        (lambda r: r.update(schema_version=2), "schema_version"),
        (lambda r: r.update(order_total=None, venue_name=None), "venue_name"),
    ],
)
def test_schema_problems_are_findings(change: Callable[[dict[str, Any]], Any], column: str) -> None:
    _, _, rows = JOINED[0]
    row = dict(rows[0])
    change(row)
    result, _, _ = run([json.dumps(row).encode()])
    assert ("schema", column) in rules(result)


@pytest.mark.parametrize(
    ("change", "column"),
    [
        (lambda r: r.update(order_id="t-nonsense"), "order_id"),
        (lambda r: r.update(payment_id=r["order_id"] + "-p9"), "payment_id"),
        (lambda r: r.update(order_id="bzzzzzzzz01-1-1-0"), "order_id"),
        (lambda r: r.update(order_id=12345), "order_id"),
    ],
)
def test_unknown_orders_are_findings(change: Callable[[dict[str, Any]], Any], column: str) -> None:
    _, _, rows = JOINED[0]
    row = dict(rows[0])
    change(row)
    result, _, _ = run([json.dumps(row).encode()])
    assert ("unknown_order", column) in rules(result)


def test_duplicates_in_a_batch_are_found_and_checked_once() -> None:
    bodies = packed(JOINED[:3])
    result, _, summary = run([*bodies, bodies[1]])
    dupes = [f for f in result.findings if f.rule == "duplicate"]
    assert len(dupes) == len(JOINED[1][2])
    assert {f.row_key for f in dupes} == {
        f"{JOINED[1][1].payment_id}/{i}" for i in range(len(dupes))
    }
    row = summary.entities()[0]
    assert row["duplicates"] == len(dupes) and row["findings_duplicate"] == len(dupes)
    assert row["checked"] == sum(len(r) for _, _, r in JOINED[:3])


def test_malformed_payloads_become_findings_and_good_lines_are_still_checked() -> None:
    good = packed(JOINED[:1])[0]
    bodies = [
        b"not json at all",
        b"[1, 2]",
        b'{"order_id": ',
        b"",
        b"\xff\xfe",
        good + b"\n{broken line\n" + b"42",
    ]
    result, _, summary = run(bodies)
    malformed = [f for f in result.findings if f.rule == "malformed"]
    assert len(malformed) == 8
    seats = len(JOINED[0][2])
    assert {f.row_key for f in malformed} >= {
        f"event 5 line {seats}",
        f"event 5 line {seats + 1}",
        "event 3",
        "event 1 item 0",
    }
    assert [f for f in result.findings if f.rule != "malformed"] == []
    assert summary.entities()[0]["checked"] == len(JOINED[0][2])


def test_sampling_is_deterministic_by_order_and_keeps_orders_whole() -> None:
    half = app_settings({"BMS_VALIDATION_SAMPLE_RATE": "0.5", "BMS_DUPLICATE_RATE": "0"})
    _first, _, s1 = run(packed(JOINED), half)
    _second, _, s2 = run(packed(JOINED), half)
    n1, n2 = s1.entities()[0]["sampled"], s2.entities()[0]["sampled"]
    total = sum(len(r) for _, _, r in JOINED)
    assert n1 == n2 and 0 < n1 < total
    assert s1.entities()[0]["money_incomplete"] == 0  # an order is sampled whole or not at all
    picked = sorted({o.booking.order_id for o, _, _ in JOINED})
    assert [validator.jc.sampled(o, 0.5) for o in picked] == [
        validator.jc.sampled(o, 0.5) for o in picked
    ]


def test_part_of_an_order_in_a_batch_is_counted_not_flagged() -> None:
    _order, _payment, rows = next(p for p in JOINED if len(p[2]) >= 2)
    result, _, summary = run([json.dumps(rows[0]).encode()])
    assert result.findings == []
    assert summary.entities()[0]["money_incomplete"] == 1


def test_burst_orders_regenerate_from_their_manifest() -> None:
    burst_id = "bvalidate01"
    anchor = NOW - NOW % 1000
    manifest = bursts.BurstManifest(
        burst_id, 5, 6, anchor, {"price_scale": 2}, None, None, 0, 6, anchor
    )
    scenario = bursts.scenario_of(SCENARIO, manifest)
    bodies = []
    for order in generator.burst_orders(scenario, burst_id, 6, anchor):
        for payment in order.payments:
            if _joins(order.booking, payment):
                rows = clean_rows(order.booking, payment)
                bodies.append("\n".join(json.dumps(r) for r in rows).encode())
    lookups: list[str] = []

    def lookup(bid: str, anchor_ms: int) -> Any:
        lookups.append(bid)
        return manifest if bid == burst_id and anchor_ms == anchor else None

    result, _, _ = run(bodies, manifests=validator.cached_manifests(lambda: _Store(lookup)))
    assert bodies and result.findings == []
    assert lookups == [burst_id]  # one storage read for the whole burst
    unknown, _, _ = run(bodies)
    assert {f.rule for f in unknown.findings} == {"unknown_order"}


class _Store:
    def __init__(self, lookup: Callable[[str, int], Any]) -> None:
        self.get = lookup


def test_one_structured_log_line_per_batch(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="bms.validator"):
        run([*packed(JOINED[:2]), b"oops"])
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "bms.validator"]
    assert len(lines) == 1
    assert lines[0]["bms"] == "validate_joined" and lines[0]["findings_malformed"] == 1


@pytest.mark.parametrize("column", [c.name for c in SEAT_COLUMNS])
def test_the_validator_holds_rows_to_every_contract_column(column: str) -> None:
    _, _, rows = JOINED[0]
    missing = dict(rows[0])
    del missing[column]
    result, _, _ = run([json.dumps(missing).encode()])
    assert ("schema", column) in rules(result)
    nulled = {**rows[0], column: None}
    result, _, _ = run([json.dumps(nulled).encode()])
    nullable = next(c.nullable for c in SEAT_COLUMNS if c.name == column)
    assert (("schema", column) in rules(result)) is not nullable


def test_storage_errors_while_reading_a_manifest_raise_so_the_host_retries() -> None:
    from azure.core.exceptions import ServiceRequestError

    def down(burst_id: str, anchor_ms: int) -> Any:
        raise ServiceRequestError("table endpoint unreachable")

    row = dict(JOINED[0][2][0])
    row["order_id"] = "bvalidate02-1-1-0"
    with pytest.raises(ServiceRequestError):
        run([json.dumps(row).encode()], manifests=down)


def test_the_decorated_function_takes_the_trigger_and_both_collectors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import function_app
    from bms_core.functions.runtime import Runtime, running

    monkeypatch.setenv("BMS_ORDERS_PER_MINUTE", "120")
    monkeypatch.setenv("BMS_SEED", "7")
    monkeypatch.setenv("BMS_VALIDATION_SAMPLE_RATE", "1")
    monkeypatch.setenv("BMS_DUPLICATE_RATE", "0")
    monkeypatch.setenv("BMS_LATE_PAYMENT_RATE", "0.3")
    findings, summary = Collector(), Collector()
    with running(Runtime()):
        function_app.validate_joined(
            events=[event(b) for b in [*packed(JOINED[:5]), b"garbage"]],
            findings=findings,
            summary=summary,
        )
    assert [e["rule"] for e in findings.entities()] == ["malformed"]
    assert summary.entities()[0]["checked"] == sum(len(r) for _, _, r in JOINED[:5])


def test_shape_and_window_are_checked_on_every_row_even_unsampled() -> None:
    never = app_settings({"BMS_VALIDATION_SAMPLE_RATE": "0"})
    row = dict(JOINED[0][2][0])
    row.pop("seat_number")
    result, _, summary = run([json.dumps(row).encode(), *packed(LATE[:1])], never)
    assert {(f.rule, f.column) for f in result.findings} == {
        ("schema", "seat_number"),
        ("window", "payment_time"),
    }
    assert summary.entities()[0]["sampled"] == 0


def _rows_with_latency(seconds: list[int | None]) -> list[Any]:
    """One event per seat row, enqueued ``seconds[i]`` after its row's payment (None: no time)."""
    from datetime import datetime, timezone

    import azure.functions as func

    rows = [row for _, _, pair_rows in JOINED for row in pair_rows][: len(seconds)]
    assert len(rows) == len(seconds)
    events = []
    for n, (row, delay) in enumerate(zip(rows, seconds, strict=True)):
        enqueued = None
        if delay is not None:
            moment = jc.to_ms(row["payment_time"]) + delay * 1000
            enqueued = datetime.fromtimestamp(moment / 1000, tz=timezone.utc)
        body = json.dumps(row).encode()
        events.append(func.EventHubEvent(body=body, sequence_number=n, enqueued_time=enqueued))
    return events


def _summary(events: list[Any], settings: Any = SETTINGS) -> dict[str, Any]:
    findings, summary = Collector(), Collector()
    validator.run_validate_joined(
        events, findings, summary, settings, manifests=lambda *_: None, now_ms=NOW
    )
    (row,) = summary.entities()
    return row


def test_latency_percentiles_of_known_rows_are_exact() -> None:
    # 100 rows enqueued 1 s, 2 s, ... 100 s after their payments, in shuffled order
    seconds: list[int | None] = [(n * 37) % 100 + 1 for n in range(100)]
    row = _summary(_rows_with_latency(seconds))
    assert (row["latency_rows"], row["latency_unknown"]) == (100, 0)
    assert (row["latency_p50_ms"], row["latency_p95_ms"]) == (50_000, 95_000)
    assert (row["latency_p99_ms"], row["latency_max_ms"]) == (99_000, 100_000)


def test_rows_without_an_enqueued_time_are_counted_not_guessed() -> None:
    row = _summary(_rows_with_latency([None, 4, None, 2, 8, None, None]))
    assert (row["latency_rows"], row["latency_unknown"]) == (3, 4)
    assert (row["latency_p50_ms"], row["latency_max_ms"]) == (4000, 8000)
    row = _summary(_rows_with_latency([None, None]))
    assert (row["latency_rows"], row["latency_unknown"]) == (0, 2)
    assert "latency_p50_ms" not in row and "latency_max_ms" not in row


def test_latency_is_measured_on_sampled_orders_only() -> None:
    unsampled = app_settings({"BMS_VALIDATION_SAMPLE_RATE": "0", "BMS_DUPLICATE_RATE": "0"})
    row = _summary(_rows_with_latency([1, 2, 3]), unsampled)
    assert (row["latency_rows"], row["latency_unknown"]) == (0, 0)
