"""sql apply: GO batches, the explicit SQLite adaptation, and real runs through unixODBC."""

from __future__ import annotations

from pathlib import Path

import pytest

from bms_core.cli import main
from bms_core.synapse.ddl import (
    ASA_USER_SCRIPT,
    CREATE_TABLES_SCRIPT,
    LOAD_CLEAN_SCRIPT,
    SqlApplyError,
    apply_scripts,
    plan,
    split_batches,
)
from bms_core.synapse.odbc import OdbcUnavailable


def test_batches_split_on_go_lines_only_and_know_their_line() -> None:
    script = (
        "-- header\nSELECT 1\nGO\nSELECT 'GO'\n  go  -- done\n\n-- only a comment\nGO\nSELECT 3"
    )
    batches = split_batches(script, "x.sql")
    assert [(b.line, b.headline) for b in batches] == [
        (2, "SELECT 1"),
        (4, "SELECT 'GO'"),
        (9, "SELECT 3"),
    ]


def test_sqlite_adaptation_is_explicit_about_what_changes() -> None:
    planned = plan([CREATE_TABLES_SCRIPT, ASA_USER_SCRIPT], "sqlite")
    statements = [s for _, ss, _ in planned for s in ss]
    assert any(s.startswith("CREATE TABLE IF NOT EXISTS fact_seat_payment (") for s in statements)
    assert not any("bms." in s or "HEAP" in s or "N'" in s for s in statements)
    reasons = {reason for _, _, reason in planned if reason}
    assert reasons == {
        "SQLite has no schemas",
        "SQLite has no PERCENTILE_CONT",
        "SQLite has no users",
        "SQLite has no permissions",
    }
    keys = [s for s in statements if s.startswith("CREATE UNIQUE INDEX")]
    assert keys == [
        "CREATE UNIQUE INDEX IF NOT EXISTS pk_fact_seat_payment_clean "
        "ON fact_seat_payment_clean (payment_event_id, seat_index)",
        "CREATE UNIQUE INDEX IF NOT EXISTS pk_fact_order_payment_clean "
        "ON fact_order_payment_clean (payment_event_id)",
    ]
    synapse = plan([CREATE_TABLES_SCRIPT], "synapse")
    assert all(reason is None and ss == [b.text] for b, ss, reason in synapse)


def test_unknown_dialect_is_named() -> None:
    with pytest.raises(SqlApplyError, match="--dialect must be one of synapse, sqlite"):
        plan([CREATE_TABLES_SCRIPT], "postgres")  # type: ignore[arg-type]


@pytest.mark.odbc
def test_sql_apply_through_the_sqlite_odbc_driver_twice(tmp_path: Path, capsys) -> None:
    database = tmp_path / "warehouse.db"
    connection = f"Driver=SQLite3;Database={database}"
    argv = ["sql", "apply", "--connection", connection, "--dialect", "sqlite"]
    assert main(argv) == 0
    assert main(argv) == 0  # idempotent, like the Synapse script
    out = capsys.readouterr().out
    assert out.count("19 batches applied, 2 skipped") == 2
    import sqlite3

    names = {r[0] for r in sqlite3.connect(database).execute("SELECT name FROM sqlite_master")}
    assert {
        "fact_seat_payment",
        "fact_order_payment",
        "v_revenue_daily",
        "v_abandoned_orders",
    } <= names


@pytest.mark.odbc
def test_loading_the_curated_tables_through_the_odbc_driver(tmp_path: Path, capsys) -> None:
    import sqlite3

    database = tmp_path / "warehouse.db"
    connection = f"Driver=SQLite3;Database={database}"
    assert main(["sql", "apply", "--connection", connection, "--dialect", "sqlite"]) == 0
    landing = sqlite3.connect(database)
    columns = [r[1] for r in landing.execute("PRAGMA table_info(fact_order_payment)")]
    row = {c: f"x-{c}" for c in columns} | {"attempt": 1, "payment_event_id": "o-1-p1"}
    insert = (
        f"INSERT INTO fact_order_payment ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    for event_id in ("o-1-p1", "o-1-p1", "o-2-p1"):  # at least once: a row written twice
        landing.execute(insert, [row[c] if c != "payment_event_id" else event_id for c in columns])
    landing.commit()
    load = [*("sql", "apply", "--connection", connection, "--dialect", "sqlite")]
    load += ["--script", str(LOAD_CLEAN_SCRIPT)]
    assert main(load) == 0
    assert main(load) == 0  # again: nothing new to copy
    assert "2 batches applied, 0 skipped" in capsys.readouterr().out
    keys = landing.execute(
        "SELECT payment_event_id FROM fact_order_payment_clean ORDER BY 1"
    ).fetchall()
    assert keys == [("o-1-p1",), ("o-2-p1",)]


@pytest.mark.odbc
def test_a_failing_batch_names_script_line_and_statement(tmp_path: Path) -> None:
    script = tmp_path / "broken.sql"
    script.write_text("CREATE TABLE ok_table (a INT)\nGO\n\nSELECT a FROM missing_table\nGO\n")
    with pytest.raises(SqlApplyError) as failure:
        apply_scripts(f"Driver=SQLite3;Database={tmp_path / 'w.db'}", [script], "sqlite")
    text = str(failure.value)
    assert f"{script}:4" in text and "SELECT a FROM missing_table" in text
    assert "no such table" in text


@pytest.mark.odbc
def test_synapse_dialect_on_a_sqlite_driver_says_which_flag_to_pass(tmp_path: Path, capsys) -> None:
    argv = ["sql", "apply", "--connection", f"Driver=SQLite3;Database={tmp_path / 'w.db'}"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "synapse_create_table.sql:39" in err and "pass --dialect sqlite" in err


@pytest.mark.odbc
def test_a_missing_driver_says_what_is_installed(tmp_path: Path) -> None:
    with pytest.raises(OdbcUnavailable, match=r"installed drivers: .*SQLite3"):
        apply_scripts(f"Driver=NoSuchDriver;Database={tmp_path / 'w.db'}", [CREATE_TABLES_SCRIPT])


def test_a_missing_script_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SqlApplyError, match=r"cannot read SQL script .*nope\.sql"):
        plan([tmp_path / "nope.sql"], "synapse")
