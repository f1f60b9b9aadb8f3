"""The local stand-in for the Synapse pool: a SQLite file whose schema comes from ``sql/``.

The DDL is not written twice: :func:`bms_core.synapse.ddl.plan` adapts
``sql/synapse_create_table.sql`` to SQLite with sqlglot (schema dropped from names, Synapse table
options removed, types mapped to SQLite affinities). Tables and views keep their Synapse names
without the ``bms.`` schema (``fact_seat_payment``, ``v_revenue_daily`` ...).
``v_payment_delay_percentiles`` needs ``PERCENTILE_CONT``, which SQLite lacks;
:meth:`Warehouse.delay_percentiles` computes the same figures in Python. The curated ``*_clean``
tables' keys become unique indexes, so a load that would repeat a key fails here;
:meth:`Warehouse.load_clean` runs ``sql/synapse_load_clean.sql`` adapted the same way.

Rows go in exactly as the joined hub carries them (the projection's dicts); ASA-format times are
stored as ``YYYY-MM-DD HH:MM:SS.mmm`` (SQLite's own date format, what ``DATETIME2(3)`` holds).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from operator import itemgetter
from pathlib import Path
from typing import Any, Final

from bms_core.joined.columns import ORDER_COLUMNS, ORDER_TABLE, SEAT_COLUMNS, SEAT_TABLE, Column
from bms_core.joined.projection import cast_datetime_ms, sql_time
from bms_core.synapse.ddl import (
    CREATE_TABLES_SCRIPT,
    LOAD_CLEAN_SCRIPT,
    ApplyReport,
    execute_plan,
    plan,
    sqlite_table_name,
)

SEAT_TABLE_LOCAL: Final = sqlite_table_name(SEAT_TABLE)
ORDER_TABLE_LOCAL: Final = sqlite_table_name(ORDER_TABLE)


_SQL_TIMES: dict[str, str] = {}
_SQL_TIME_CACHE: Final = 16_384
"""Recent conversions: a pair's times repeat on every seat row, show times across orders."""


def sqlite_time(value: object) -> str | None:
    """An ASA/ISO time as SQLite's ``YYYY-MM-DD HH:MM:SS.mmm`` (``None`` stays ``None``)."""
    if value is None:
        return None
    if type(value) is str:
        known = _SQL_TIMES.get(value)
        if known is not None:
            return known
        fast = sql_time(value)  # the projection's own formats: by slicing
        if fast is not None:
            if len(_SQL_TIMES) >= _SQL_TIME_CACHE:
                _SQL_TIMES.clear()
            _SQL_TIMES[value] = fast
            return fast
    ms = cast_datetime_ms(value)
    if ms is None:
        raise ValueError(f"not a time: {value!r}")
    seconds, milli = divmod(ms, 1000)
    return (
        datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        + f".{milli:03d}"
    )


def _insert_sql(table: str, columns: Sequence[Column]) -> str:
    names = ", ".join(c.name for c in columns)
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({marks})"


class _RowLayout:
    """How one table's rows become parameter tuples, worked out once per column list: the
    values in column order (one C-level ``itemgetter``), then the time columns converted."""

    __slots__ = ("names", "pick", "times")

    def __init__(self, columns: Sequence[Column]) -> None:
        self.names = tuple(c.name for c in columns)
        self.pick = itemgetter(*self.names)
        self.times = tuple(i for i, c in enumerate(columns) if c.sql_type.startswith("DATETIME2"))

    def values(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        try:
            picked = self.pick(row)
        except KeyError as exc:
            raise ValueError(f"row lacks column {exc.args[0]!r}") from exc
        if not self.times:
            return picked  # type: ignore[no-any-return]
        values = list(picked)
        for i in self.times:
            values[i] = sqlite_time(values[i])
        return tuple(values)


_LAYOUTS: dict[tuple[Column, ...], _RowLayout] = {}


def _layout(columns: Sequence[Column]) -> _RowLayout:
    key = tuple(columns)
    layout = _LAYOUTS.get(key)
    if layout is None:
        layout = _LAYOUTS[key] = _RowLayout(columns)
    return layout


def _values(row: Mapping[str, Any], columns: Sequence[Column]) -> tuple[Any, ...]:
    return _layout(columns).values(row)


class Warehouse:
    """A SQLite database with the Synapse tables and views (created on open if missing)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self.connection = sqlite3.connect(self.path)
        self.report: ApplyReport = self.create()

    def create(self) -> ApplyReport:
        """Apply the adapted DDL (idempotent, like the Synapse script)."""
        cursor = self.connection.cursor()
        try:
            return execute_plan(cursor, plan([CREATE_TABLES_SCRIPT], "sqlite"))
        finally:
            cursor.close()
            self.connection.commit()

    def load_clean(self) -> tuple[int, int]:
        """Run ``sql/synapse_load_clean.sql`` (adapted): copy keys the curated tables do not
        hold yet from the de-duplicating views; ``(seat rows, order rows)`` inserted."""
        cursor = self.connection.cursor()
        inserted = []
        try:
            for planned in plan([LOAD_CLEAN_SCRIPT], "sqlite"):  # one INSERT per batch
                execute_plan(cursor, [planned])
                inserted.append(cursor.rowcount)
        finally:
            cursor.close()
            self.connection.commit()
        seats, orders = inserted
        return seats, orders

    def insert_seat_rows(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Append seat rows (``SEAT_COLUMNS`` keys); returns how many."""
        return self._insert(SEAT_TABLE_LOCAL, SEAT_COLUMNS, rows)

    def insert_order_rows(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Append order rows (``ORDER_COLUMNS`` keys); returns how many."""
        return self._insert(ORDER_TABLE_LOCAL, ORDER_COLUMNS, rows)

    def insert_pairs(self, pairs: Iterable[Any]) -> tuple[int, int]:
        """Both rows of each joined pair (``JoinedPair`` from the reference job)."""
        seats: list[dict[str, Any]] = []
        orders: list[dict[str, Any]] = []
        for pair in pairs:
            rows = getattr(pair, "rows", None)
            if rows is not None:  # both at once, shared columns computed once
                seat_rows, order_row = rows()
            else:
                seat_rows, order_row = pair.seat_rows(), pair.order_row()
            seats.extend(seat_rows)
            orders.append(order_row)
        return self.insert_seat_rows(seats), self.insert_order_rows(orders)

    def _insert(
        self, table: str, columns: Sequence[Column], rows: Iterable[Mapping[str, Any]]
    ) -> int:
        to_values = _layout(columns).values
        values = [to_values(row) for row in rows]
        with self.connection:
            self.connection.executemany(_insert_sql(table, columns), values)
        return len(values)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of any SELECT as dicts."""
        cursor = self.connection.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def view(self, name: str) -> list[dict[str, Any]]:
        """All rows of a view, by its Synapse name
        (``bms.v_revenue_daily`` or ``v_revenue_daily``)."""
        return self.query(f"SELECT * FROM {sqlite_table_name(name)}")

    def delay_percentiles(
        self, fractions: Sequence[float] = (0.5, 0.9, 0.99)
    ) -> dict[str, dict[float, float]]:
        """``v_payment_delay_percentiles`` by IST booking day: PERCENTILE_CONT, computed here."""
        rows = self.query(
            "SELECT DATE(booking_time, '+330 minutes') AS day, payment_delay_ms "
            "FROM v_order_payment "
            "WHERE payment_status = 'Success' ORDER BY day, payment_delay_ms"
        )
        by_day: dict[str, list[float]] = {}
        for row in rows:
            by_day.setdefault(row["day"], []).append(float(row["payment_delay_ms"]))
        return {
            day: {f: _percentile_cont(values, f) for f in fractions}
            for day, values in by_day.items()
        }

    def close(self) -> None:
        self.connection.close()


def _percentile_cont(ordered: Sequence[float], fraction: float) -> float:
    """T-SQL PERCENTILE_CONT: linear interpolation at (n - 1) * fraction."""
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
