"""reconcile's SQL through pyodbc, unixODBC and Debian's SQLite ODBC driver (no fake cursor)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlglot

from bms_core import contract, generator, odbc, projection, reconcile, timefmt
from bms_core.joined import SEAT_COLUMNS, SEAT_TABLE
from bms_local.warehouse import SEAT_TABLE_LOCAL, Warehouse, sqlite_time
from tests.bms_core.invocation import Collector, app_settings, timer

MINUTE = 60_000
WINDOW_START = 1_795_000_200_000 - 1_795_000_200_000 % (10 * MINUTE)
WINDOW_END = WINDOW_START + 10 * MINUTE
# The run that reconciles [WINDOW_START, WINDOW_END): 10-minute windows, 5 minutes' delay.
NOW = WINDOW_END + 5 * MINUTE + 17_000
TABLE = SEAT_TABLE_LOCAL


class NoBursts:
    def active(self, start_ms: int, end_ms: int, max_delay_ms: int) -> list[Any]:
        return []


def settings_for(db: Path) -> Any:
    return app_settings(
        {
            "BMS_ORDERS_PER_MINUTE": "30",
            "BMS_DUPLICATE_RATE": "0",
            "BMS_SYNAPSE_CONNECTION": f"Driver=SQLite3;Database={db}",
            "BMS_RECONCILE_WINDOW_MINUTES": "10",
            "BMS_RECONCILE_DELAY_MINUTES": "5",
        }
    )


def joined_rows(scenario: Any, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
    """The seat rows a correct pipeline writes for payments in the window."""
    rows = []
    for payment in generator.payments_due(scenario, start_ms, end_ms):
        order = generator.regenerate(scenario, payment.order_id)
        booking = json.loads(contract.encode(order.booking))
        doc = json.loads(contract.encode(payment))
        b_ms = timefmt.parse_ms(booking["booking_time"])
        p_ms = timefmt.parse_ms(doc["payment_time"])
        if projection.in_window(b_ms, p_ms):
            rows.extend(projection.seat_rows(booking, doc, p_ms))
    return rows


def insert(connection: Any, rows: list[dict[str, Any]]) -> None:
    """More rows through ODBC, stored as the warehouse stores them."""
    names = [c.name for c in SEAT_COLUMNS]
    sql = f"INSERT INTO {TABLE} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    times = {c.name for c in SEAT_COLUMNS if c.sql_type.startswith("DATETIME")}
    cursor = connection.cursor()
    cursor.executemany(
        sql, [[sqlite_time(r[n]) if n in times else r[n] for n in names] for r in rows]
    )
    cursor.close()


@pytest.fixture
def warehouse(tmp_path: Path) -> tuple[Path, Any, list[dict[str, Any]]]:
    """The local warehouse (tables from sql/) holding what a correct pipeline wrote."""
    db = tmp_path / "warehouse.db"
    settings = settings_for(db)
    rows = joined_rows(settings.scenario, WINDOW_START - MINUTE, WINDOW_END + MINUTE)
    warehouse = Warehouse(db)
    assert warehouse.insert_seat_rows(rows) == len(rows)
    warehouse.close()
    return db, settings, rows


@pytest.mark.odbc
def test_a_complete_warehouse_reconciles(warehouse: tuple[Path, Any, Any]) -> None:
    _db, settings, rows = warehouse
    summary = Collector()
    result = reconcile.run_reconcile(
        timer(NOW - 3_600_000), summary, settings, store=NoBursts(), now_ms=NOW
    )
    assert result is not None
    assert (result.start_ms, result.end_ms) == (WINDOW_START, WINDOW_END)
    in_window = [
        r for r in rows if WINDOW_START <= projection.parse_asa_time(r["payment_time"]) < WINDOW_END
    ]
    assert sum(result.actual.values()) == sum(result.expected.values()) == len(in_window) > 0
    assert set(result.actual) <= set(range(10))
    (entity,) = summary.entities()
    assert entity["status"] == "ok" and entity["minutes_mismatched"] == 0
    assert entity["expected_rows"] == entity["actual_rows"] == len(in_window)


@pytest.mark.odbc
def test_duplicates_count_once_and_a_missing_minute_is_reported(
    warehouse: tuple[Path, Any, Any],
) -> None:
    _db, settings, rows = warehouse
    connection = odbc.connect(settings.synapse_connection)
    insert(connection, rows[:50])  # at-least-once delivery wrote some rows twice
    minute_3 = sqlite_time(timefmt.format_ms(WINDOW_START + 3 * MINUTE))[:16]
    cursor = connection.cursor()
    cursor.execute(f"DELETE FROM {TABLE} WHERE substr(payment_time, 1, 16) = ?", minute_3)
    deleted = cursor.rowcount
    cursor.close()
    connection.close()
    assert deleted > 0
    summary = Collector()
    result = reconcile.run_reconcile(timer(None), summary, settings, store=NoBursts(), now_ms=NOW)
    assert result is not None
    assert result.mismatched_minutes == {3: (result.expected[3], 0)}
    (entity,) = summary.entities()
    assert entity["status"] == "mismatch"
    assert entity["expected_rows"] - entity["actual_rows"] == result.expected[3]
    assert json.loads(entity["mismatches"]) == {"3": [result.expected[3], 0]}


def test_without_a_synapse_connection_reconcile_does_nothing() -> None:
    summary = Collector()
    assert reconcile.run_reconcile(timer(None), summary, app_settings(), now_ms=NOW) is None
    assert summary.value is None


def test_the_window_is_closed_aligned_and_in_the_past() -> None:
    start, end = reconcile.closed_window(NOW, 60, 30)
    assert end - start == 3_600_000 and end % 3_600_000 == 0
    assert end <= NOW - 30 * MINUTE < end + 3_600_000


def test_the_synapse_query_is_valid_t_sql_on_the_seat_table() -> None:
    parsed = sqlglot.parse_one(reconcile.SYNAPSE_SQL, read="tsql")
    tables = {t.sql(dialect="tsql") for t in parsed.find_all(sqlglot.exp.Table)}
    assert SEAT_TABLE in tables
    assert reconcile.SYNAPSE_SQL.count("?") == 4
    assert reconcile.dialect_of("Driver={ODBC Driver 18 for SQL Server};Server=x") == "synapse"
    assert reconcile.dialect_of("Driver=SQLite3;Database=x.db") == "sqlite"


def test_the_decorated_function_is_a_no_op_without_synapse(monkeypatch: pytest.MonkeyPatch) -> None:
    import function_app
    from bms_core.runtime import Runtime, running

    monkeypatch.delenv("BMS_SYNAPSE_CONNECTION", raising=False)
    summary = Collector()
    with running(Runtime()):
        function_app.reconcile(timer=timer(None), summary=summary)
    assert summary.value is None
