"""The local pipeline end to end: real handlers, SDKs, emulator, Azurite, job, warehouse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bms_local.demo import DemoOptions, run_demo
from bms_local.report import TIMING_FIELDS, write_report

pytestmark = [pytest.mark.slow, pytest.mark.eventhubs, pytest.mark.azurite]

START = 1_764_414_000_000  # 2025-11-29T11:00:00Z, a Saturday afternoon in IST


def _run(**overrides: object) -> object:
    settings: dict[str, object] = {
        "minutes": 3,
        "orders_per_minute": 40,
        "seed": 7,
        "start_ms": START,
        "burst_orders": 20,
    }
    options = DemoOptions(**{**settings, **overrides})
    return run_demo(options, log=lambda _line: None)


@pytest.fixture(scope="module")
def clean_report() -> object:
    return _run(sample_rate=1.0)


def test_clean_run_reconciles_at_every_hop(clean_report: object, tmp_path: Path) -> None:
    report = clean_report
    c = report.counts
    assert report.checks and all(report.checks.values()), report.checks
    assert c.orders > 100
    assert c.bookings_in == c.bookings_sent == c.orders  # no duplicates, nothing malformed
    assert c.payments_in == c.payments_sent
    assert c.joined_pairs == report.truth["expected_pairs"] > 0
    assert c.warehouse_rows == c.joined_rows == report.truth["expected_seat_rows"]
    # nothing was delivered twice, so the curated copies hold every row once
    assert (c.curated_rows, c.curated_order_rows) == (c.warehouse_rows, c.warehouse_order_rows)
    u = report.unmatched
    assert (
        c.orders == report.truth["matched_orders"] + u.never_paid + u.after_window + u.failed_only
    )
    assert c.findings == 0 and report.verdict == "clean"
    assert c.validated == c.joined_rows  # sample rate 1.0 checks every row
    # latency on the simulated clock: a payment waits for the next 10 s tick, the job none
    latency = report.latency_s
    assert latency["rows"] == c.joined_rows and latency["unknown"] == 0
    assert 0 <= latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"] <= 10.0
    assert report.validator_latency_s["largest batch max"] == latency["max"]
    assert sum(float(v) for v in report.revenue_by_category.values()) > 0
    json_path, html_path = write_report(report, tmp_path)
    data = json.loads(json_path.read_text())
    for key in (
        "orders",
        "bookings_sent",
        "payments_sent",
        "bookings_in",
        "payments_in",
        "joined_rows",
        "warehouse_rows",
        "validated",
        "findings",
    ):
        assert key in data["counts"]
    assert set(data["unmatched"]) >= {"never_paid", "after_window", "failed_only"}
    assert "<svg" in html_path.read_text()


def test_same_seed_same_report() -> None:
    """However fast the SDK delivers, the same options give the same report, burst included."""
    first = _run(minutes=2).as_dict()
    again = _run(minutes=2).as_dict()
    for key in TIMING_FIELDS:
        first.pop(key), again.pop(key)
    assert again == first
    assert first["counts"]["joined_rows"] > 0


def test_injected_faults_are_found() -> None:
    report = _run(sample_rate=1.0, malformed_rate=0.05, duplicate_rate=0.05, tamper_rows=3)
    c = report.counts
    assert all(report.checks.values()), report.checks
    assert c.malformed_sent > 0 and c.rejected_in == c.malformed_sent
    assert c.duplicates_sent > 0
    # a duplicated booking joins twice: the landing tables hold both, the curated ones one
    assert 0 < c.curated_order_rows < c.warehouse_order_rows
    assert 0 < c.curated_rows < c.warehouse_rows
    assert report.findings_by_rule.get("duplicate", 0) > 0
    assert sum(n for rule, n in report.findings_by_rule.items() if rule != "duplicate") >= 3
    assert report.verdict != "clean"
