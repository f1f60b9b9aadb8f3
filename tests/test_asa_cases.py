"""asa/Test: the reference job's output equals rows derived from the query's rules, not from
the job; the files on disk are current.

Regenerate with ``python -m bms_local job --regenerate-asa-tests``.
"""

from __future__ import annotations

import json

import pytest

from bms_core.joined import order_column_names, seat_column_names
from bms_local.stream_job import asa_cases

REGENERATE = "python -m bms_local job --regenerate-asa-tests"


def test_asa_test_files_are_current() -> None:
    stale = asa_cases.stale_files()
    assert stale == [], f"asa/Test is stale ({[str(p) for p in stale]}); run: {REGENERATE}"


def _expected(case: str, name: str) -> list[dict]:
    return json.loads((asa_cases.TEST_DIR / case / name).read_text())


@pytest.mark.parametrize("case", list(asa_cases.CASES))
def test_the_reference_job_produces_each_cases_expected_rows(case: str) -> None:
    folder = asa_cases.TEST_DIR / case
    seats, orders = asa_cases.job_rows(folder / "bookings.json", folder / "payments.json")
    assert seats == _expected(case, "expected_seats.json")
    assert orders == _expected(case, "expected_orders.json")


HAND_WORKED = {
    # case: [(order_id, attempt, payment_delay_ms, joined_at, seat rows)] by the query's rules
    "multi_seat_happy_path": [("t-1-case-1", 1, 120_000, "10:02:00", 3)],
    "payment_at_0s": [("t-1-case-2", 1, 0, "10:00:00", 1)],
    "payment_at_900s": [("t-1-case-3", 1, 900_000, "10:15:00", 1)],
    "payment_at_901s": [],
    "failed_then_successful_attempt": [
        ("t-1-case-5", 1, 60_000, "10:01:00", 2),
        ("t-1-case-5", 2, 180_000, "10:03:00", 2),
    ],
    "duplicated_booking": [("t-1-case-6", 1, 30_000, "10:00:30", 1)] * 2,
    "malformed_timestamp": [("t-1-case-8", 1, 10_000, "10:00:11", 1)],
    "booking_and_payment_on_different_partitions": [("t-1-case-9", 1, 45_000, "10:00:45", 1)],
}


def test_expected_rows_say_what_each_case_is_about() -> None:
    assert set(HAND_WORKED) == set(asa_cases.CASES)
    for case, pairs in HAND_WORKED.items():
        seats = _expected(case, "expected_seats.json")
        orders = _expected(case, "expected_orders.json")
        found = [
            (r["order_id"], r["attempt"], r["payment_delay_ms"], r["joined_at"][11:19])
            for r in orders
        ]
        assert found == [p[:4] for p in pairs], case
        assert all(r["joined_at"].startswith("2026-11-29T") for r in orders + seats)
        assert len(seats) == sum(p[4] for p in pairs), case
        assert all(tuple(r) == seat_column_names() for r in seats)
        assert all(tuple(r) == order_column_names() for r in orders)
    statuses = [
        r["payment_status"]
        for r in _expected("failed_then_successful_attempt", "expected_orders.json")
    ]
    assert statuses == ["Failed", "Success"]
    amounts = _expected("multi_seat_happy_path", "expected_seats.json")
    paid = _expected("multi_seat_happy_path", "expected_orders.json")[0]["payment_amount"]
    assert round(sum(r["seat_amount"] for r in amounts), 2) == paid


def test_the_cross_partition_case_puts_booking_and_payment_on_different_partitions() -> None:
    case = asa_cases.CASES["booking_and_payment_on_different_partitions"]()
    ((b, p),) = case.pairs
    assert (
        json.loads(case.bookings[b])["PartitionId"] != json.loads(case.payments[p])["PartitionId"]
    )


def test_test_config_points_at_existing_files_and_the_query_outputs() -> None:
    config = json.loads((asa_cases.TEST_DIR / "testConfig.json").read_text())
    assert (asa_cases.TEST_DIR / config["Script"]).resolve() == (
        asa_cases.ASA_DIR / "bms_join.asaql"
    ).resolve()
    names = [case["Name"] for case in config["TestCases"]]
    assert names == list(asa_cases.CASES)
    query = (asa_cases.ASA_DIR / "bms_join.asaql").read_text()
    for case in config["TestCases"]:
        for item in case["Inputs"]:
            assert item["ScriptType"] == "InputMock"
            assert (asa_cases.TEST_DIR / item["FilePath"]).is_file()
            assert f"FROM [{item['InputAlias']}]" in query
        for item in case["ExpectedOutputs"]:
            assert (asa_cases.TEST_DIR / item["FilePath"]).is_file()
            assert f"INTO [{item['OutputAlias']}]" in query


def test_a_changed_expectation_is_reported_as_stale(tmp_path) -> None:
    asa_cases.regenerate(tmp_path)
    target = tmp_path / "payment_at_900s" / "expected_orders.json"
    target.write_text("[]\n")
    assert asa_cases.stale_files(tmp_path) == [target]
