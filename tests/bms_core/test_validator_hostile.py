"""validate_joined under hostile rows: nothing raises, a poisoned row becomes findings, and the
good rows of its batch are still checked and summarised, in time and memory bounded by a clean
batch measured in the same run (generous factors; no absolute wall-clock time is asserted)."""

from __future__ import annotations

import json
import statistics
import time
import tracemalloc
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bms_core.joined import check as jc
from bms_core.joined.columns import seat_column_names
from bms_core.money import parse_paise
from tests.bms_core.test_validator import JOINED, packed, run

MULTI = next(p for p in JOINED if len(p[2]) >= 2)
GOOD = [p for p in JOINED[:12] if p is not MULTI]
GOOD_ROWS = sum(len(rows) for _, _, rows in GOOD)


def with_column(row: dict[str, Any], column: str, value: Any) -> dict[str, Any]:
    changed = dict(row)
    changed[column] = value
    return changed


def raw_row(row: dict[str, Any], column: str, json_text: str) -> bytes:
    """A row whose ``column`` holds ``json_text`` verbatim (values json.dumps cannot write)."""
    marker = "__RAW__"
    return json.dumps(with_column(row, column, marker)).replace(f'"{marker}"', json_text).encode()


FIRST = MULTI[2][0]
POISONS: dict[str, list[bytes]] = {
    "seat_amount 1e999990 in a two-seat group": [
        "\n".join(
            json.dumps(with_column(r, "seat_amount", "1e999990") if n == 0 else r)
            for n, r in enumerate(MULTI[2])
        ).encode()
    ],
    "seat_amount 1e5000": [json.dumps(with_column(FIRST, "seat_amount", "1e5000")).encode()],
    "a 5000-digit seat_amount number": [raw_row(FIRST, "seat_amount", "9" * 5000)],
    "a 4000-digit seat_index": [raw_row(FIRST, "seat_index", "9" * 4000)],
    "order_id a lone surrogate": [raw_row(FIRST, "order_id", '"\\ud800"')],
    "payment_event_id a lone surrogate": [raw_row(FIRST, "payment_event_id", '"\\udfff"')],
    "a row nested 100,000 deep": [b'{"order_id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"],
    "an array nested 990 deep": [b"[" * 990 + b"]" * 990],
    "seat_price Infinity": [raw_row(FIRST, "seat_price", "Infinity")],
    "booking_time NaN": [raw_row(FIRST, "booking_time", "NaN")],
    "booking_time year 1 with an offset": [
        json.dumps(with_column(FIRST, "booking_time", "0001-01-01T00:00:00-23:59")).encode()
    ],
    "a 1 MB order_id": [
        json.dumps(with_column(FIRST, "order_id", "t-" + "1" * 1_000_000)).encode()
    ],
    "a 1 MB payment_time": [
        json.dumps(with_column(FIRST, "payment_time", "9" * 1_000_000)).encode()
    ],
    "NUL and bidi in texts": [
        json.dumps(with_column(FIRST, "event_name", "\x00\u202e\u2066" * 1000)).encode()
    ],
    "random bytes": [bytes(range(256)) * 40],
    "a partial row": [json.dumps(FIRST)[: len(json.dumps(FIRST)) // 2].encode()],
    "a row of nothing but unknown columns": [json.dumps({"x" * 1000: [1] * 10_000}).encode()],
}


def _timed(bodies: list[bytes]) -> tuple[float, Any, Any, Any]:
    start = time.perf_counter()
    result, findings, summary = run(bodies)
    return time.perf_counter() - start, result, findings, summary


def _clean_baseline() -> float:
    times = [_timed(packed(GOOD) + packed([MULTI]))[0] for _ in range(5)]
    return statistics.median(times)


@pytest.mark.parametrize("name", list(POISONS))
def test_a_poisoned_row_leaves_the_good_rows_of_its_batch_checked_and_summarised(
    name: str,
) -> None:
    baseline = _clean_baseline()
    group = "group" in name  # the poison is one of MULTI's own rows
    good = packed(GOOD) + ([] if group else packed([MULTI]))
    elapsed, result, findings, summary = _timed(good + POISONS[name])
    (row,) = summary.entities()
    assert row["checked"] >= GOOD_ROWS + len(MULTI[2]) - (1 if group else 0)
    assert row["money_checked"] >= len(GOOD) + (0 if group else 1)
    assert row["findings"] >= 1 and row["findings"] == len(result.findings)
    for entity in findings.entities():
        assert len(entity["actual"]) <= 1000 and len(entity["expected"]) <= 1000
    # Generous: a poisoned batch may parse up to 1 MB more than the clean one.
    assert elapsed <= 50 * baseline + 0.5, (elapsed, baseline)


def test_a_huge_seat_amount_is_a_money_finding_not_a_conversion() -> None:
    result, _, _ = run(POISONS["seat_amount 1e999990 in a two-seat group"])
    money = [f for f in result.findings if f.rule == jc.MONEY]
    assert {f.column for f in money} == {"seat_amount"}
    assert any(f.actual == "unparseable share" for f in money)
    assert all(len(f.actual) < 300 for f in result.findings)


@pytest.mark.parametrize(
    ("value", "paise"),
    [
        ("450.10", 45010),
        (450.1, 45010),
        (450, 45000),
        ("-12.5", -1250),
        ("1.000000", 100),
        ("9999999999.99", 999_999_999_999),
        ("99999999999", None),
        ("1e999990", None),
        ("1e5", None),
        (1e16, None),
        (0.1 + 0.2, None),
        ("1.005", None),
        (float("inf"), None),
        (10**40, None),
        ("9" * 100, None),
        (True, None),
        ([1], None),
    ],
)
def test_money_text_is_read_only_when_it_is_a_plain_rupee_amount(value: Any, paise: Any) -> None:
    assert parse_paise(value) == paise


def test_money_precision_matches_the_joined_columns() -> None:
    from bms_core import money
    from bms_core.joined.columns import SEAT_COLUMNS

    money_types = {c.sql_type for c in SEAT_COLUMNS if c.sql_type.startswith("DECIMAL")}
    assert money_types == {f"DECIMAL({money.AMOUNT_PRECISION},{money.AMOUNT_SCALE})"}


# --- the fuzz -----------------------------------------------------------------------------------
COLUMNS = seat_column_names()
HOSTILE_TEXT = st.one_of(
    st.text(max_size=30),
    st.text(st.characters(codec=None, categories=None), max_size=30),
    st.sampled_from(["\ud800", "\udfff", "\u202e", "\x00", "1e999990", "1e5000", "-0", "NaN"]),
    st.builds(lambda n, c: c * n, st.integers(0, 300_000), st.sampled_from("x9\u202e")),
)
HOSTILE_NUMBER = st.one_of(
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.builds(lambda n: int("9" * n), st.integers(1, 4000)),
)
SCALAR = st.one_of(st.none(), st.booleans(), HOSTILE_NUMBER, HOSTILE_TEXT)
JSON_VALUE = st.recursive(
    SCALAR,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=15,
)
GOOD_ROW_BODIES = [json.dumps(r) for _, _, rows in GOOD for r in rows]


def _encode(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


def _row_with(index: int, column: str, value: Any, drop: list[str]) -> bytes:
    row = json.loads(GOOD_ROW_BODIES[index % len(GOOD_ROW_BODIES)])
    row[column] = value
    for name in drop:
        row.pop(name, None)
    return _encode(row)


def _row_raw(index: int, column: str, text: str) -> bytes:
    row = json.loads(GOOD_ROW_BODIES[index % len(GOOD_ROW_BODIES)])
    return raw_row(row, column, text)


def _cut(index: int, at: int, byte: int) -> bytes:
    body = bytearray(GOOD_ROW_BODIES[index % len(GOOD_ROW_BODIES)].encode())
    body = body[: at % (len(body) + 1)] or body
    body[at % len(body)] = byte
    return bytes(body)


ROW_BODIES = st.one_of(
    st.binary(max_size=500),
    JSON_VALUE.map(_encode),
    st.builds(
        _row_with,
        st.integers(0, 1000),
        st.sampled_from(COLUMNS),
        JSON_VALUE,
        st.lists(st.sampled_from(COLUMNS), max_size=5),
    ),
    st.builds(
        _row_raw,
        st.integers(0, 1000),
        st.sampled_from(COLUMNS),
        st.one_of(
            st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999990", "-1e-999990"]),
            st.builds(lambda n: "9" * n, st.integers(1, 20_000)),
            st.builds(lambda n: "[" * n + "]" * n, st.integers(1, 50_000)),
            st.builds(lambda n: '{"a":' * n + "1" + "}" * n, st.integers(1, 3_000)),
        ),
    ),
    st.builds(_cut, st.integers(0, 1000), st.integers(0, 2000), st.integers(0, 255)),
    st.lists(
        st.builds(_row_with, st.integers(0, 1000), st.sampled_from(COLUMNS), SCALAR, st.just([])),
        max_size=8,
    ).map(lambda bodies: b"\n".join(bodies)),
)


@pytest.mark.slow
def test_validator_fuzz_never_raises_and_keeps_checking_the_good_rows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = packed(GOOD[:3])
    good_rows = sum(len(rows) for _, _, rows in GOOD[:3])
    tracemalloc.start()
    try:
        times, peaks = [], []
        for _ in range(7):
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            start = time.perf_counter()
            run([*good, GOOD_ROW_BODIES[0].encode()])
            times.append(time.perf_counter() - start)
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
        baseline_time, baseline_peak = statistics.median(times), max(peaks)
        stats = {"inputs": 0, "findings": 0, "worst_ratio": 0.0, "worst_extra_bytes": 0}

        @settings(
            max_examples=2500,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(ROW_BODIES)
        def one(body: bytes) -> None:
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            start = time.perf_counter()
            result, findings, summary = run([*good, body])
            elapsed = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1] - before
            (row,) = summary.entities()
            stats["inputs"] += 1
            stats["findings"] += len(result.findings)
            stats["worst_ratio"] = max(stats["worst_ratio"], elapsed / baseline_time)
            stats["worst_extra_bytes"] = max(stats["worst_extra_bytes"], peak - baseline_peak)
            assert row["checked"] >= good_rows, (row, body[:300])
            for entity in findings.entities():
                assert len(entity["actual"]) <= 1000
            # Time: a body parses in time linear in its size; allow 50x the clean batch plus
            # 20x a clean batch's time for every 10 KB of body. A call over it runs once more
            # and its faster run counts (a collector pause is not the input's cost).
            allowed = baseline_time * (50 + 20 * len(body) / 10_000)
            if elapsed > allowed:
                start = time.perf_counter()
                run([*good, body])
                elapsed = min(elapsed, time.perf_counter() - start)
            assert elapsed <= allowed, (elapsed, baseline_time, body[:300])
            # Memory: the clean batch's twice and 1 MB of slack (caches warming), plus 16 bytes
            # per byte of body (its text and the objects parsed from it).
            allowed_bytes = 2 * baseline_peak + 1_000_000 + 16 * len(body)
            assert peak <= allowed_bytes, (peak, baseline_peak, body[:300])

        one()
    finally:
        tracemalloc.stop()
    with capsys.disabled():
        print(
            f"\nvalidator fuzz: {stats['inputs']} batches (3 good pairs + 1 hostile body each), "
            f"{stats['findings']} findings; slowest {stats['worst_ratio']:.1f}x the clean batch "
            f"({baseline_time * 1000:.1f} ms), largest extra peak "
            f"{int(stats['worst_extra_bytes']) / 1e6:.1f} MB over its {baseline_peak / 1e6:.1f} MB"
        )
    assert stats["inputs"] >= 1000


def test_the_manifest_cache_is_bounded_in_bytes_and_remembers_missing_bursts() -> None:
    from types import SimpleNamespace

    from bms_core.joined import validator

    reads: list[str] = []
    big = SimpleNamespace(overrides={"city_mix": {f"City {i}": 1 for i in range(200)}})

    class Store:
        def get(self, burst_id: str, anchor_ms: int) -> Any:
            reads.append(burst_id)
            return big if burst_id.startswith("big") else None

    lookup = validator.cached_manifests(lambda: Store(), budget=100_000)
    for _ in range(3):
        assert lookup("made-up", 0) is None
    assert reads == ["made-up"]
    for n in range(50):
        assert lookup(f"big{n}", 0) is big
    reads.clear()
    assert lookup("big49", 0) is big and reads == []
    assert lookup("big0", 0) is big and reads == ["big0"]  # evicted long ago: read again


def test_the_longest_order_id_is_within_what_the_validator_decodes() -> None:
    from bms_core.joined import validator
    from bms_core.traffic import orderid

    longest_burst = "b" + "z" * 16
    assert orderid.is_burst_id(longest_burst)
    key = orderid.OrderKey(longest_burst, orderid.MAX_SEED, orderid.MAX_SLOT, orderid.MAX_INDEX)
    assert len(orderid.encode_order_id(key)) <= validator.MAX_ORDER_ID
