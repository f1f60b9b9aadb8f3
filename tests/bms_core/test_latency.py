"""The pipeline's latency: nearest-rank percentiles and unknown rows counted, never guessed."""

from __future__ import annotations

import pytest

from bms_core.joined import latency


def test_nearest_rank_percentiles_of_one_to_a_hundred_are_exact() -> None:
    values = list(range(1, 101))
    assert [latency.nearest_rank(values, p) for p in (50, 95, 99, 100)] == [50, 95, 99, 100]


def test_nearest_rank_is_always_a_measured_value() -> None:
    values = [10, 20, 30, 40]
    assert [latency.nearest_rank(values, p) for p in (1, 25, 26, 50, 95, 99)] == [
        10,
        10,
        20,
        20,
        40,
        40,
    ]
    with pytest.raises(ValueError):
        latency.nearest_rank([], 50)


def test_summary_fields_hold_counts_and_figures_only_when_measured() -> None:
    assert latency.summary_fields([3000, 1000, 2000], unknown=2) == {
        "latency_rows": 3,
        "latency_unknown": 2,
        "latency_p50_ms": 2000,
        "latency_p95_ms": 3000,
        "latency_p99_ms": 3000,
        "latency_max_ms": 3000,
    }
    assert latency.summary_fields([], unknown=4) == {"latency_rows": 0, "latency_unknown": 4}


def test_a_row_without_an_enqueued_time_or_payment_time_has_no_latency() -> None:
    assert latency.row_latency_ms(None, "2026-12-04T13:30:00.000Z") is None
    assert latency.row_latency_ms(1_796_391_000_000, "not a time") is None
    assert latency.row_latency_ms(1_796_391_004_500, "2026-12-04T13:30:00.000Z") == 4500
    # ASA writes seven fractional digits
    assert latency.row_latency_ms(1_796_391_001_000, "2026-12-04T13:30:00.0000000Z") == 1000


def test_describe_reads_as_a_log_line() -> None:
    fields = latency.summary_fields([1000, 2000, 9000], unknown=1)
    assert latency.describe(fields) == (
        "latency p50 2.0 s, p95 9.0 s, p99 9.0 s, max 9.0 s (3 rows, 1 without an enqueued time)"
    )
    assert latency.describe({"latency_rows": 0, "latency_unknown": 0}) == (
        "latency: none measured (0 rows)"
    )
