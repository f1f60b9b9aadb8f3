"""reconcile: joined seat rows per minute in Synapse against what the generator says they are.

Hourly, and only when ``BMS_SYNAPSE_CONNECTION`` is set (otherwise a logged no-op). It takes a
closed past window (``BMS_RECONCILE_WINDOW_MINUTES`` long, ending at least
``BMS_RECONCILE_DELAY_MINUTES`` ago, aligned to its length), counts distinct seat rows
(``payment_event_id``, ``seat_index``) per minute of ``payment_time`` in
``bms.fact_seat_payment`` (duplicates delivered at least once count once), and compares with the
generator: every payment attempt due in the window whose booking is within the join window
contributes one row per seat, for timer orders and for bursts.

SQL goes through :func:`bms_core.odbc.connect` (pyodbc imported lazily: it needs the system's
unixODBC). Two dialects of one query: T-SQL for Synapse, and SQLite's for the local warehouse
(``bms_local.warehouse``: the same tables without the ``bms.`` schema) and the tests, through
Debian's SQLite ODBC driver (``Driver=SQLite3;Database=<file>``).
"""

from __future__ import annotations

import functools
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Final

from bms_core import clock
from bms_core.joined import SEAT_TABLE
from bms_core.names import JOIN_WINDOW_SECONDS

log = logging.getLogger("bms.reconcile")
MS_PER_MINUTE: Final = 60_000

SYNAPSE_SQL: Final = f"""
SELECT DATEDIFF(second, ?, d.payment_time) / 60 AS minute_index, COUNT(*) AS seat_rows
FROM (
    SELECT DISTINCT payment_event_id, seat_index, payment_time
    FROM {SEAT_TABLE}
    WHERE payment_time >= ? AND payment_time < ?
) AS d
GROUP BY DATEDIFF(second, ?, d.payment_time) / 60
"""
"""T-SQL (Synapse dedicated pool): parameters start, start, end, start as ISO-8601 text."""

SQLITE_SQL: Final = """
SELECT (d.epoch_s - ?) / 60 AS minute_index, COUNT(*) AS seat_rows
FROM (
    SELECT DISTINCT payment_event_id, seat_index,
           CAST(strftime('%s', payment_time) AS INTEGER) AS epoch_s
    FROM {table}
    WHERE CAST(strftime('%s', payment_time) AS INTEGER) >= ?
      AND CAST(strftime('%s', payment_time) AS INTEGER) < ?
) AS d
GROUP BY (d.epoch_s - ?) / 60
"""
"""SQLite: parameters start, start, end, start as epoch seconds (window bounds are whole
seconds, so ``strftime('%s')`` flooring to the second cannot move a row across a bound)."""


def dialect_of(connection_string: str) -> str:
    """``sqlite`` for the SQLite ODBC drivers, else ``synapse``."""
    return "sqlite" if "sqlite" in connection_string.lower() else "synapse"


def closed_window(now_ms: int, window_minutes: int, delay_minutes: int) -> tuple[int, int]:
    """``[start, end)`` of the latest whole window that ended at least ``delay`` ago."""
    length = window_minutes * MS_PER_MINUTE
    end = (now_ms - delay_minutes * MS_PER_MINUTE) // length * length
    return end - length, end


def _iso_seconds(ms: int) -> str:
    return datetime.fromtimestamp(ms // 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def count_rows_per_minute(
    connection: Any, start_ms: int, end_ms: int, dialect: str, table: str | None = None
) -> Counter[int]:
    """Distinct seat rows per minute index (0 = the window's first minute) in the warehouse."""
    cursor = connection.cursor()
    try:
        if dialect == "sqlite":
            from bms_core.synapse import sqlite_table_name

            sql = SQLITE_SQL.format(table=table or sqlite_table_name(SEAT_TABLE))
            start_s, end_s = start_ms // 1000, end_ms // 1000
            cursor.execute(sql, start_s, start_s, end_s, start_s)
        else:
            sql = SYNAPSE_SQL if table is None else SYNAPSE_SQL.replace(SEAT_TABLE, table)
            start, end = _iso_seconds(start_ms), _iso_seconds(end_ms)
            cursor.execute(sql, start, start, end, start)
        return Counter({int(minute): int(rows) for minute, rows in cursor.fetchall()})
    finally:
        cursor.close()


def expected_rows_per_minute(
    scenario: Any, start_ms: int, end_ms: int, manifests: Iterable[Any] = ()
) -> Counter[int]:
    """Seat rows the generator says the window holds, per minute of payment_time."""
    from bms_core import bursts, generator, timefmt

    counts: Counter[int] = Counter()

    def add(payments: Iterable[Any], regenerate: Callable[[str], Any]) -> None:
        bookings: dict[str, Any] = {}
        for payment in payments:
            booking = bookings.get(payment.order_id)
            if booking is None:
                booking = regenerate(payment.order_id).booking
                bookings[payment.order_id] = booking
            paid = timefmt.parse_ms(payment.payment_time)
            delay = paid - timefmt.parse_ms(booking.booking_time)
            if 0 <= delay <= JOIN_WINDOW_SECONDS * 1000:
                counts[(paid - start_ms) // MS_PER_MINUTE] += len(booking.event_details.seats)

    add(
        generator.payments_due(scenario, start_ms, end_ms),
        lambda order_id: generator.regenerate(scenario, order_id),
    )
    for manifest in manifests:
        burst_scenario = bursts.scenario_of(scenario, manifest)
        add(
            generator.burst_payments_due(
                burst_scenario,
                manifest.burst_id,
                manifest.orders,
                manifest.anchor_ms,
                start_ms,
                end_ms,
            ),
            functools.partial(generator.regenerate, burst_scenario),
        )
    return counts


@dataclass
class Reconciliation:
    """The window's totals and each minute that differs (expected, actual)."""

    start_ms: int
    end_ms: int
    expected: Counter[int] = field(default_factory=Counter)
    actual: Counter[int] = field(default_factory=Counter)

    @property
    def mismatched_minutes(self) -> dict[int, tuple[int, int]]:
        minutes = set(self.expected) | set(self.actual)
        return {
            m: (self.expected[m], self.actual[m])
            for m in sorted(minutes)
            if self.expected[m] != self.actual[m]
        }

    def entity(self) -> dict[str, Any]:
        start = datetime.fromtimestamp(self.start_ms / 1000, tz=timezone.utc)
        diff = self.mismatched_minutes
        return {
            "PartitionKey": start.strftime("%Y%m%d"),
            "RowKey": start.strftime("%Y%m%d%H%M"),
            "window_start": start.isoformat(),
            "window_end": datetime.fromtimestamp(self.end_ms / 1000, tz=timezone.utc).isoformat(),
            "expected_rows": sum(self.expected.values()),
            "actual_rows": sum(self.actual.values()),
            "minutes_mismatched": len(diff),
            "mismatches": json.dumps({str(m): list(v) for m, v in list(diff.items())[:60]}),
            "status": "ok" if not diff else "mismatch",
        }


def reconcile_window(
    connection: Any,
    scenario: Any,
    start_ms: int,
    end_ms: int,
    *,
    dialect: str,
    manifests: Iterable[Any] = (),
    table: str | None = None,
) -> Reconciliation:
    """Counts from the warehouse and from the generator for ``[start_ms, end_ms)``."""
    return Reconciliation(
        start_ms,
        end_ms,
        expected_rows_per_minute(scenario, start_ms, end_ms, manifests),
        count_rows_per_minute(connection, start_ms, end_ms, dialect, table),
    )


def run_reconcile(
    timer: Any,
    summary_out: Any,
    settings: Any,
    *,
    store: Any = None,
    now_ms: int | None = None,
    table: str | None = None,
) -> Reconciliation | None:
    """The function body: a no-op without ``BMS_SYNAPSE_CONNECTION``; else one summary row."""
    from bms_core import generator, odbc, runtime

    if not settings.synapse_connection:
        log.info(json.dumps({"bms": "reconcile", "skipped": "BMS_SYNAPSE_CONNECTION not set"}))
        return None
    now = clock.now_ms() if now_ms is None else now_ms
    start, end = closed_window(
        now, settings.reconcile_window_minutes, settings.reconcile_delay_minutes
    )
    manifests = (store or runtime.current().manifests).active(
        start, end, generator.MAX_PAYMENT_DELAY_MS
    )
    connection = odbc.connect(settings.synapse_connection)
    try:
        result = reconcile_window(
            connection,
            settings.scenario,
            start,
            end,
            dialect=dialect_of(settings.synapse_connection),
            manifests=manifests,
            table=table,
        )
    finally:
        connection.close()
    entity = result.entity()
    summary_out.set(json.dumps([entity]))
    log.info(json.dumps({"bms": "reconcile", **entity}, sort_keys=True))
    return result
