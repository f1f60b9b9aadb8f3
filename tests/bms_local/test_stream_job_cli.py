"""``python -m bms_local job`` on event files: rows out, counts and rejects on stderr."""

from __future__ import annotations

import json
from pathlib import Path

from bms_core.contract import encode
from bms_core.timefmt import parse_ms
from bms_local.cli import main
from bms_local.stream_job import asa_cases
from bms_local.stream_job.samples import sample_booking, sample_payment
from bms_local.warehouse import Warehouse

T0 = parse_ms("2026-11-29T10:00:00.000Z")


def _jsonl(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_job_on_jsonl_files_writes_rows_and_reports_counts(tmp_path: Path, capsys) -> None:
    booking = sample_booking("o-1", T0, seat_prices=(45000, 30000))
    late = sample_booking("o-2", T0)
    bookings = _jsonl(tmp_path / "b.jsonl", [encode(booking), b"{broken", encode(late)])
    payments = _jsonl(
        tmp_path / "p.jsonl",
        [encode(sample_payment(booking, T0 + 5_000)), encode(sample_payment(late, T0 + 901_000))],
    )
    out, orders, db = tmp_path / "seats.jsonl", tmp_path / "orders.jsonl", tmp_path / "w.db"
    argv = ["job", "--bookings", str(bookings), "--payments", str(payments), "--out", str(out)]
    argv += ["--orders-out", str(orders), "--warehouse", str(db)]
    assert main(argv) == 0
    seats = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["order_id"], r["seat_number"]) for r in seats] == [("o-1", "A1"), ("o-1", "A2")]
    assert len(orders.read_text().splitlines()) == 1
    assert Warehouse(db).query("SELECT COUNT(*) AS n FROM fact_seat_payment") == [{"n": 2}]
    err = capsys.readouterr().err
    summary = json.loads(err[: err.index("\n}") + 2])
    assert summary["rejected"] == {"booking.not_json_object": 1}
    assert summary["unmatched"] == {"booking": 1, "payment": 1}
    assert "rejected booking (booking.not_json_object): {broken" in err


def test_job_names_a_missing_input(tmp_path: Path, capsys) -> None:
    argv = ["job", "--bookings", str(tmp_path / "none.jsonl"), "--payments", str(tmp_path / "x")]
    assert main(argv) == 2
    assert "--bookings" in capsys.readouterr().err


def test_regenerate_asa_tests_leaves_a_fresh_tree_unchanged(capsys) -> None:
    assert asa_cases.stale_files() == []
    assert main(["job", "--regenerate-asa-tests"]) == 0
    assert "0 files changed" in capsys.readouterr().out


def test_file_events_may_carry_their_enqueued_time_and_partition(tmp_path: Path, capsys) -> None:
    booking = sample_booking("o-1", T0)
    late = json.loads(encode(sample_payment(booking, T0 + 899_000)))
    late["EventEnqueuedUtcTime"] = "2026-11-29T10:17:00.0000000Z"  # 121 s after its event time
    late["PartitionId"] = 2
    booked = json.loads(encode(booking))
    booked["PartitionId"] = 2
    bookings = tmp_path / "b.json"
    bookings.write_text(json.dumps([booked]))  # a JSON array, as ASA's local inputs are
    payments = _jsonl(tmp_path / "p.jsonl", [json.dumps(late).encode()])
    argv = ["job", "--bookings", str(bookings), "--payments", str(payments)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out == ""  # adjusted to arrival - 60 s = 961 s after booking: no join
    assert '"payment.late": 1' in captured.err
