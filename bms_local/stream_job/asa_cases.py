"""The local test cases of the ASA project (``asa/Test``), built and checked from one place.

Each case is a pair of input files (the events exactly as on the hubs, as JSON arrays) and the
expected outputs. The pairs each case must produce are written down by hand with the case,
from the query's rules (window, every pair, no partition condition); the expected rows are
those pairs projected by the joined-row contract (``bms_core.projection``), with
``joined_at`` the later of the two event times (a file run applies no ordering policy). The
reference job does not write them: ``tests/test_asa_cases.py`` runs it on the inputs and
compares. ``asa/Test/testConfig.json`` lists the cases for Microsoft's
``azure-streamanalytics-cicd test``.

``python -m bms_local job --regenerate-asa-tests`` rewrites every file; ``stale_files()`` names
the files that differ from what it would write.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, NamedTuple

import msgspec

from bms_core.contract import Booking, Payment, encode
from bms_core.projection import pair_rows
from bms_core.timefmt import parse_ms
from bms_local.stream_job.job import StreamJob
from bms_local.stream_job.samples import sample_booking, sample_payment
from bms_local.stream_job.sources import run_files

ASA_DIR: Final = Path(__file__).resolve().parents[2] / "asa"
TEST_DIR: Final = ASA_DIR / "Test"
T0: Final = parse_ms("2026-11-29T10:00:00.000Z")
SEAT_OUTPUTS: Final = ("joined", "synapse-seats")
ORDER_OUTPUT: Final = "synapse-orders"


class Case(NamedTuple):
    """A case's inputs and the pairs the query must produce from them, written by hand."""

    bookings: list[bytes]
    payments: list[bytes]
    pairs: list[tuple[int, int]]
    """``(index in bookings, index in payments)`` of every pair the query emits."""


def _wire(events: list[Booking] | list[Payment]) -> list[bytes]:
    return [encode(e) for e in events]


def _on_partition(body: bytes, partition: int) -> bytes:
    """The event with the ``PartitionId`` an Event Hubs input would add."""
    return body[:-1] + b',"PartitionId":' + str(partition).encode() + b"}"


def multi_seat_happy_path() -> Case:
    """Three seats, paid on the first try two minutes later: three seat rows, one order row."""
    b = sample_booking("t-1-case-1", T0, seat_prices=(45000, 30000, 25050), event_type="Concert")
    return Case(
        _wire([b]), _wire([sample_payment(b, T0 + 120_000, method="Credit Card")]), [(0, 0)]
    )


def payment_at_0s() -> Case:
    """Paid in the same millisecond as booked: DATEDIFF 0 is inside the window."""
    b = sample_booking("t-1-case-2", T0)
    return Case(_wire([b]), _wire([sample_payment(b, T0)]), [(0, 0)])


def payment_at_900s() -> Case:
    """Paid exactly 900 s after booking: the window's upper bound is inclusive."""
    b = sample_booking("t-1-case-3", T0)
    return Case(_wire([b]), _wire([sample_payment(b, T0 + 900_000)]), [(0, 0)])


def payment_at_901s() -> Case:
    """Paid 901 s after booking: outside the window, no output at all."""
    b = sample_booking("t-1-case-4", T0)
    return Case(_wire([b]), _wire([sample_payment(b, T0 + 901_000)]), [])


def failed_then_successful_attempt() -> Case:
    """Attempt 1 fails, attempt 2 succeeds: two pairs, each with its own status."""
    b = sample_booking("t-1-case-5", T0, seat_prices=(30000, 30000))
    p1 = sample_payment(b, T0 + 60_000, attempt=1, status="Failed", method="Debit Card")
    p2 = sample_payment(b, T0 + 180_000, attempt=2, status="Success", method="UPI")
    return Case(_wire([b]), _wire([p1, p2]), [(0, 0), (0, 1)])


def duplicated_booking() -> Case:
    """The same booking delivered twice (at-least-once): ASA joins both copies."""
    b = sample_booking("t-1-case-6", T0)
    return Case(_wire([b, b]), _wire([sample_payment(b, T0 + 30_000)]), [(0, 0), (1, 0)])


def malformed_timestamp() -> Case:
    """A booking whose booking_time is not a time is dropped; the other order still joins."""
    bad = sample_booking("t-1-case-7", T0)
    good = sample_booking("t-1-case-8", T0 + 1_000)
    bad_wire = encode(bad).replace(b'"2026-11-29T10:00:00.000Z"', b'"2026-11-29T25:61:00Z"', 1)
    payments = [sample_payment(bad, T0 + 10_000), sample_payment(good, T0 + 11_000)]
    return Case([bad_wire, encode(good)], _wire(payments), [(1, 1)])


def booking_and_payment_on_different_partitions() -> Case:
    """Keyless producers: the booking on partition 0, its payment on partition 1; they join
    (the query has no PartitionId condition). Another order's booking sits on partition 1
    and its payment, 901 s later, on partition 0: still outside the window."""
    b = sample_booking("t-1-case-9", T0)
    other = sample_booking("t-1-case-10", T0 + 2_000)
    bookings = [_on_partition(encode(b), 0), _on_partition(encode(other), 1)]
    payments = [
        _on_partition(encode(sample_payment(b, T0 + 45_000)), 1),
        _on_partition(encode(sample_payment(other, T0 + 903_000)), 0),
    ]
    return Case(bookings, payments, [(0, 0)])


CASES: Final[dict[str, Callable[[], Case]]] = {
    f.__name__: f
    for f in (
        multi_seat_happy_path,
        payment_at_0s,
        payment_at_900s,
        payment_at_901s,
        failed_then_successful_attempt,
        duplicated_booking,
        malformed_timestamp,
        booking_and_payment_on_different_partitions,
    )
}


def _array(bodies: list[bytes]) -> bytes:
    return b"[\n" + b",\n".join(bodies) + b"\n]\n" if bodies else b"[]\n"


def _rows_json(rows: list[dict[str, Any]]) -> bytes:
    return (json.dumps(rows, indent=2, ensure_ascii=False) + "\n").encode()


def _sort_key(row: dict[str, Any]) -> tuple[str, str, int, int]:
    return (row["joined_at"], row["order_id"], row["attempt"], row.get("seat_index", -1))


Rows = tuple[list[dict[str, Any]], list[dict[str, Any]]]
"""(seat rows, order rows), sorted as the expected files hold them."""


def _sorted(seats: list[dict[str, Any]], orders: list[dict[str, Any]]) -> Rows:
    return sorted(seats, key=_sort_key), sorted(orders, key=_sort_key)


def expected_rows(case: Case) -> Rows:
    """The rows of the case's hand-written pairs: each pair projected by the joined-row
    contract, joined at the later of its two event times."""
    seats: list[dict[str, Any]] = []
    orders: list[dict[str, Any]] = []
    for b, p in case.pairs:
        booking = msgspec.json.decode(case.bookings[b])
        payment = msgspec.json.decode(case.payments[p])
        joined_at = max(parse_ms(booking["booking_time"]), parse_ms(payment["payment_time"]))
        seat, order = pair_rows(booking, payment, joined_at)
        seats += seat
        orders.append(order)
    return _sorted(seats, orders)


def job_rows(bookings: Path, payments: Path) -> Rows:
    """What the reference job emits for two input files."""
    seats: list[dict[str, Any]] = []
    orders: list[dict[str, Any]] = []
    for pair in run_files(StreamJob(), bookings, payments):
        seat, order = pair.rows()
        seats += seat
        orders.append(order)
    return _sorted(seats, orders)


def test_config() -> dict[str, Any]:
    """``asa/Test/testConfig.json`` for ``azure-streamanalytics-cicd test``."""
    cases = []
    for name in CASES:
        inputs = [
            {
                "InputAlias": alias,
                "Type": "Data Stream",
                "Format": "Json",
                "FilePath": f"{name}/{alias}.json",
                "ScriptType": "InputMock",
            }
            for alias in ("bookings", "payments")
        ]
        outputs = [
            {"OutputAlias": alias, "FilePath": f"{name}/expected_seats.json", "Required": True}
            for alias in SEAT_OUTPUTS
        ]
        outputs.append(
            {
                "OutputAlias": ORDER_OUTPUT,
                "FilePath": f"{name}/expected_orders.json",
                "Required": True,
            }
        )
        cases.append({"Name": name, "Inputs": inputs, "ExpectedOutputs": outputs})
    return {"Script": "../bms_join.asaql", "TestCases": cases}


def planned_files(test_dir: Path = TEST_DIR) -> dict[Path, bytes]:
    """Every file under ``asa/Test`` and its exact content, inputs first."""
    files: dict[Path, bytes] = {}
    for name, build in CASES.items():
        case = build()
        seats, orders = expected_rows(case)
        files[test_dir / name / "bookings.json"] = _array(case.bookings)
        files[test_dir / name / "payments.json"] = _array(case.payments)
        files[test_dir / name / "expected_seats.json"] = _rows_json(seats)
        files[test_dir / name / "expected_orders.json"] = _rows_json(orders)
    config = json.dumps(test_config(), indent=2) + "\n"
    files[test_dir / "testConfig.json"] = config.encode()
    return files


def stale_files(test_dir: Path = TEST_DIR) -> list[Path]:
    """Files under ``asa/Test`` that are missing or differ from what regeneration writes."""
    return [
        path
        for path, content in planned_files(test_dir).items()
        if not path.is_file() or path.read_bytes() != content
    ]


def regenerate(test_dir: Path = TEST_DIR) -> list[Path]:
    """Write every case file; returns the paths that changed."""
    changed = []
    for path, content in planned_files(test_dir).items():
        if not path.is_file() or path.read_bytes() != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            changed.append(path)
    return changed
