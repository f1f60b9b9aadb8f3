"""The joined-row projection: what ASA writes for a (booking, payment) pair, column by column."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from bms_core.contract import encode
from bms_core.joined.columns import order_column_names, seat_column_names
from bms_core.joined.projection import (
    cast_bigint,
    cast_datetime_ms,
    cast_paise,
    format_asa_time,
    in_window,
    order_row,
    parse_asa_time,
    seat_rows,
)
from bms_core.timefmt import parse_ms
from bms_local.stream_job.samples import sample_booking, sample_payment

SAT_20H_UTC = parse_ms("2026-11-28T20:00:00.000Z")  # Saturday; 01:30 on Sunday in IST


def _as_asa_sees(event: object) -> dict:
    return json.loads(encode(event))  # type: ignore[arg-type]


def _pair(prices: tuple[int, ...] = (45000, 30000, 25050), delay_ms: int = 60_000):
    booking = sample_booking("t-1-abc-0", SAT_20H_UTC, seat_prices=prices)
    payment = sample_payment(booking, SAT_20H_UTC + delay_ms)
    return _as_asa_sees(booking), _as_asa_sees(payment)


@pytest.mark.parametrize(
    ("delay_ms", "joins"),
    [(0, True), (900_000, True), (900_001, False), (-1, False), (899_999, True)],
)
def test_window_is_elapsed_time_inclusive_at_both_ends(delay_ms: int, joins: bool) -> None:
    assert in_window(SAT_20H_UTC, SAT_20H_UTC + delay_ms) is joins


def test_seat_rows_follow_the_column_contract_in_order() -> None:
    booking, payment = _pair()
    rows = seat_rows(booking, payment, SAT_20H_UTC + 60_000)
    assert len(rows) == 3
    for row in rows:
        assert tuple(row) == seat_column_names()
    assert [r["seat_index"] for r in rows] == [0, 1, 2]
    assert {r["seat_count"] for r in rows} == {3}


def test_seat_amounts_sum_exactly_to_the_amount_paid() -> None:
    booking, payment = _pair(prices=(45000, 30000, 25050))
    rows = seat_rows(booking, payment, SAT_20H_UTC)
    paid = Decimal(str(payment["amount"]))
    assert sum(Decimal(str(r["seat_amount"])) for r in rows) == paid
    # each share = price + fee 30.00 + GST 5.40
    assert [r["seat_amount"] for r in rows] == [485.40, 335.40, 285.90]
    assert [r["seat_price"] for r in rows] == [450.00, 300.00, 250.50]


def test_order_row_carries_order_money_once() -> None:
    booking, payment = _pair(prices=(45000, 30000))
    row = order_row(booking, payment, SAT_20H_UTC + 60_000)
    assert tuple(row) == order_column_names()
    assert row["seat_count"] == 2
    assert row["ticket_subtotal"] == 750.00
    assert row["convenience_fee"] == 60.00
    assert row["gst_on_fee"] == 10.80
    assert row["order_total"] == row["payment_amount"] == 820.80


def test_times_in_asa_output_format_and_calendar_columns_in_utc_and_ist() -> None:
    booking, payment = _pair(delay_ms=90_500)
    row = order_row(booking, payment, SAT_20H_UTC + 90_500)
    assert row["booking_time"] == "2026-11-28T20:00:00.0000000Z"
    assert row["payment_time"] == "2026-11-28T20:01:30.5000000Z"
    assert row["joined_at"] == "2026-11-28T20:01:30.5000000Z"
    assert row["payment_delay_ms"] == 90_500
    assert (row["booking_hour_utc"], row["booking_weekday_utc"]) == (20, 7)  # Saturday
    assert (row["booking_hour_ist"], row["booking_weekday_ist"]) == (1, 1)  # Sunday 01:30


def test_mappings_and_failed_attempt_columns() -> None:
    booking = sample_booking("t-1-abc-1", SAT_20H_UTC, event_type="Concert")
    payment = sample_payment(booking, SAT_20H_UTC + 5, status="Failed", method="Debit Card")
    row = order_row(_as_asa_sees(booking), _as_asa_sees(payment), SAT_20H_UTC + 5)
    assert row["event_category"] == "Music"
    assert row["payment_type"] == "Card"
    assert row["payment_status"] == "Failed"
    assert row["failure_reason"] == "Payment declined"
    odd = {**_as_asa_sees(payment), "payment_method": "Crypto"}
    assert order_row(_as_asa_sees(booking), odd, SAT_20H_UTC)["payment_type"] == "Other"


def test_try_cast_gives_null_instead_of_failing() -> None:
    assert cast_datetime_ms("2026-13-01T00:00:00.000Z") is None
    assert cast_datetime_ms("yesterday") is None
    assert cast_datetime_ms(1234) is None
    assert cast_datetime_ms("2026-11-28T20:00:00Z") == SAT_20H_UTC
    assert cast_datetime_ms("2026-11-28T20:00:00.0000000Z") == SAT_20H_UTC
    assert cast_datetime_ms("2026-11-29T01:30:00+05:30") == SAT_20H_UTC
    assert cast_bigint("7") == 7
    assert cast_bigint("seven") is None
    assert cast_paise("450.10") == 45010
    assert cast_paise("lots") is None
    booking, payment = _pair()
    payment["payment_time"] = "not a time"
    assert order_row(booking, payment, SAT_20H_UTC)["payment_time"] is None


def test_asa_time_round_trips() -> None:
    assert parse_asa_time(format_asa_time(SAT_20H_UTC + 123)) == SAT_20H_UTC + 123
    with pytest.raises(ValueError, match="not an ISO-8601 time"):
        parse_asa_time("soon")
