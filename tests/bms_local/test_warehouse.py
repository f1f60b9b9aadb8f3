"""The SQLite warehouse: schema derived from sql/, rows from the reference job, views that hold."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

from bms_core.contract import encode
from bms_core.joined.columns import ORDER_COLUMNS, SEAT_COLUMNS
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
        ("fact_seat_payment_clean", SEAT_COLUMNS),
        ("fact_order_payment_clean", ORDER_COLUMNS),
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


def _rows(warehouse: Warehouse, source: str, key: str) -> list[dict]:
    return warehouse.query(f"SELECT * FROM {source} ORDER BY {key}")


def test_curated_tables_hold_each_key_once_and_loading_again_adds_nothing(
    warehouse: Warehouse,
) -> None:
    assert warehouse.load_clean() == (9, 5)  # the duplicated booking's second pair is left out
    seat_key, order_key = "payment_event_id, seat_index", "payment_event_id"
    assert _rows(warehouse, "fact_seat_payment_clean", seat_key) == _rows(
        warehouse, "v_seat_payment", seat_key
    )
    assert _rows(warehouse, "fact_order_payment_clean", order_key) == _rows(
        warehouse, "v_order_payment", order_key
    )
    assert warehouse.load_clean() == (0, 0)
    # ASA writes a loaded pair once more, and a new pair arrives: only the new key goes in
    late = sample_booking("o-late", T0 + 5000, seat_prices=(10000, 10000))
    arrivals = [
        Arrival("booking", encode(late)),
        Arrival("payment", encode(sample_payment(late, T0 + 65_000))),
    ]
    again = warehouse.query("SELECT * FROM fact_order_payment WHERE order_id = 'o-paid' LIMIT 1")
    warehouse.insert_order_rows(again)
    warehouse.insert_pairs(StreamJob().process(arrivals))
    assert warehouse.load_clean() == (2, 1)
    counts = warehouse.query(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT payment_event_id) AS keys "
        "FROM fact_order_payment_clean"
    )
    assert counts == [{"n": 6, "keys": 6}]


def test_the_curated_key_is_enforced_locally(warehouse: Warehouse) -> None:
    """Synapse does not enforce the key; the local unique index does, so a load that would
    repeat a key fails here instead of passing silently."""
    warehouse.load_clean()
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"), warehouse.connection:
        warehouse.connection.execute(
            "INSERT INTO fact_order_payment_clean SELECT * FROM fact_order_payment LIMIT 1"
        )
