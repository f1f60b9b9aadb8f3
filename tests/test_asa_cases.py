"""asa/Test holds what the reference job produces; a stale file fails here.

Regenerate with ``python -m bms_local job --regenerate-asa-tests``.
"""

from __future__ import annotations

import json

from bms_core.joined import order_column_names, seat_column_names
from bms_local.stream_job import asa_cases

REGENERATE = "python -m bms_local job --regenerate-asa-tests"


def test_asa_test_files_match_the_reference_job() -> None:
    stale = asa_cases.stale_files()
    assert stale == [], f"asa/Test is stale ({[str(p) for p in stale]}); run: {REGENERATE}"


def _expected(case: str, name: str) -> list[dict]:
    return json.loads((asa_cases.TEST_DIR / case / name).read_text())


def test_cases_cover_the_behaviours_the_issue_names() -> None:
    seats = {case: _expected(case, "expected_seats.json") for case in asa_cases.CASES}
    orders = {case: _expected(case, "expected_orders.json") for case in asa_cases.CASES}
    assert len(seats["multi_seat_happy_path"]) == 3 and len(orders["multi_seat_happy_path"]) == 1
    assert [r["payment_delay_ms"] for r in orders["payment_at_0s"]] == [0]
    assert [r["payment_delay_ms"] for r in orders["payment_at_900s"]] == [900_000]
    assert orders["payment_at_901s"] == [] and seats["payment_at_901s"] == []
    statuses = [
        (r["attempt"], r["payment_status"]) for r in orders["failed_then_successful_attempt"]
    ]
    assert statuses == [(1, "Failed"), (2, "Success")]
    assert len(orders["duplicated_booking"]) == 2
    assert {r["order_id"] for r in orders["malformed_timestamp"]} == {"t-1-case-8"}
    for rows in seats.values():
        assert all(tuple(r) == seat_column_names() for r in rows)
    for rows in orders.values():
        assert all(tuple(r) == order_column_names() for r in rows)


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
