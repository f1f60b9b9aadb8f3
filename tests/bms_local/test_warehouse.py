"""The SQLite warehouse: schema derived from sql/, rows from the reference job, views that hold."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bms_core.contract import encode
from bms_core.joined import ORDER_COLUMNS, SEAT_COLUMNS
from bms_core.timefmt import parse_ms
from bms_local.stream_job import Arrival, StreamJob
from bms_local.stream_job.samples import sample_booking, sample_payment
from bms_local.warehouse import Warehouse

T0 = parse_ms("2026-11-29T10:00:00.000Z")  # 15:30 IST, Sunday 29 Nov


@pytest.fixture
def warehouse() -> Warehouse:
    booked = sample_booking("o-paid", T0, seat_prices=(45000, 30000, 25050), event_type="Concert")
    retried = sample_booking("o-retry", T0 + 1000, seat_prices=(20000, 20000))
    abandoned = sample_booking("o-gone", T0 + 2000, city="Delhi")
    arrivals = [
        Arrival("booking", encode(booked)),
        Arrival("booking", encode(booked)),  # duplicate delivery
        Arrival("booking", encode(retried)),
        Arrival("booking", encode(abandoned)),
        Arrival("payment", encode(sample_payment(booked, T0 + 60_000))),
        Arrival("payment", encode(sample_payment(retried, T0 + 61_000, status="Failed"))),
        Arrival("payment", encode(sample_payment(retried, T0 + 121_000, attempt=2))),
        Arrival("payment", encode(sample_payment(abandoned, T0 + 62_000, status="Failed"))),
        Arrival(
            "payment", encode(sample_payment(abandoned, T0 + 90_000, attempt=2, status="Failed"))
        ),
    ]
    store = Warehouse()
    store.insert_pairs(StreamJob().process(arrivals))
    return store


def test_tables_are_the_synapse_tables_column_for_column() -> None:
    store = Warehouse()
    for table, columns in (
        ("fact_seat_payment", SEAT_COLUMNS),
        ("fact_order_payment", ORDER_COLUMNS),
    ):
        info = store.query(f"PRAGMA table_info({table})")
        assert [(r["name"], bool(r["notnull"])) for r in info] == [
            (c.name, not c.nullable) for c in columns
        ]
    skipped = [reason for _, reason in store.report.skipped]
    assert skipped == ["SQLite has no schemas", "SQLite has no PERCENTILE_CONT"]


def test_creating_twice_is_harmless(tmp_path) -> None:
    path = tmp_path / "w.db"
    Warehouse(path).close()
    again = Warehouse(path)
    assert again.query("SELECT COUNT(*) AS n FROM fact_seat_payment") == [{"n": 0}]


def test_dedup_views_remove_at_least_once_copies(warehouse: Warehouse) -> None:
    raw = warehouse.query("SELECT COUNT(*) AS n FROM fact_order_payment")[0]["n"]
    assert raw == 6  # the duplicated booking joined twice
    orders = warehouse.view("bms.v_order_payment")
    assert len(orders) == 5
    assert len(warehouse.view("v_seat_payment")) == 3 + 2 + 2 + 1 + 1


def test_revenue_counts_each_order_once_at_both_grains(warehouse: Warehouse) -> None:
    daily = warehouse.view("v_revenue_daily")
    assert {(r["booking_day_ist"], r["event_category"], r["city"]) for r in daily} == {
        ("2026-11-29", "Music", "Pune"),
        ("2026-11-29", "Cinema", "Pune"),
    }
    paid = {
        r["event_category"]: Decimal(str(r["amount_paid"])).quantize(Decimal("0.01")) for r in daily
    }
    assert paid == {"Music": Decimal("1106.70"), "Cinema": Decimal("470.80")}
    by_seat = warehouse.view("v_revenue_by_seat_category")
    seat_total = sum(Decimal(str(r["amount_paid"])) for r in by_seat).quantize(Decimal("0.01"))
    assert seat_total == sum(paid.values())


def test_success_rate_abandoned_orders_and_delay_percentiles(warehouse: Warehouse) -> None:
    rate = {
        r["payment_type"]: (r["attempts"], r["successes"])
        for r in warehouse.view("v_payment_success_rate")
    }
    assert rate == {"UPI": (5, 2)}
    gone = warehouse.view("v_abandoned_orders")
    assert [(r["order_id"], r["failed_attempts"], r["city"]) for r in gone] == [
        ("o-gone", 2, "Delhi")
    ]
    assert warehouse.delay_percentiles() == {
        "2026-11-29": {0.5: 90_000.0, 0.9: 114_000.0, 0.99: 119_400.0}
    }


def test_times_are_stored_the_same_whatever_format_they_come_in() -> None:
    from bms_local.warehouse import sqlite_time

    expected = "2026-11-29 10:00:05.123"
    for text in (
        "2026-11-29T10:00:05.1230000Z",  # ASA's output format
        "2026-11-29T10:00:05.123Z",  # the wire format
        "2026-11-29T15:30:05.123+05:30",
        "2026-11-29 10:00:05.123",
    ):
        assert sqlite_time(text) == expected
    assert sqlite_time("0999-01-01T00:00:00.000Z") == sqlite_time("0999-01-01T00:00:00+00:00")
    with pytest.raises(ValueError, match="not a time"):
        sqlite_time("2026-11-29T10:00:05.1230000X")
