"""POST /api/burst under hostile bodies: every answer is a bounded JSON 4xx (or a 202 for a
request within the limits), never an exception, and no request costs more than the largest
legitimate one.

The fuzz goes through the real handler with real ``azure.functions.HttpRequest`` objects. Its
bounds are measured in the same run: time and traced memory of a fresh burst whose city mix has
the most entries allowed (its catalog not cached) is the baseline every hostile call is held to,
with generous factors; no absolute wall-clock time is asserted.
"""

from __future__ import annotations

import json
import statistics
import time
import tracemalloc
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bms_core.functions import bursts, routes
from bms_core.traffic import catalog
from bms_core.traffic.scenario import FIELDS, MAX_MIX_ENTRIES, MAX_NAME_CHARS, Scenario
from tests.bms_core.invocation import Collector, app_settings, http

MAX_ORDERS = 3
SETTINGS = app_settings({"BMS_BURST_MAX_ORDERS": str(MAX_ORDERS)})
MAX_ANSWER_BYTES = 1024
"""An error answer quotes a short excerpt, never the value: this bounds every answer."""
NOW = 1_795_000_003_456


class MemoryStore:
    def __init__(self) -> None:
        self.manifests: list[Any] = []

    def put(self, manifest: Any) -> None:
        self.manifests.append(manifest)


def post(body: bytes) -> tuple[int, dict[str, Any], int]:
    response = routes.run_burst(
        http("POST", "burst", body),
        Collector(),
        Collector(),
        settings=SETTINGS,
        manifests=MemoryStore(),
        now_ms=NOW,
    )
    assert response.mimetype == "application/json"
    raw = response.get_body()
    return response.status_code, json.loads(raw), len(raw)


def city_mix(count: int, stem: str = "City") -> dict[str, float]:
    return {f"{stem} {i}": 1.0 + i % 7 for i in range(count)}


def body_of(value: Any) -> bytes:
    return json.dumps(value).encode()


HOSTILE = [
    (
        "a 5 MB orders string",
        b'{"orders": "' + b"9" * 5_000_000 + b'"}',
        413,
        "body",
        str(bursts.MAX_BODY_BYTES),
    ),
    (
        "450,000 cities",
        body_of({"orders": 1, "scenario": {"city_mix": city_mix(450_000)}}),
        413,
        "body",
        "limit",
    ),
    (
        "one city over the mix limit",
        body_of({"orders": 1, "scenario": {"city_mix": city_mix(MAX_MIX_ENTRIES + 1)}}),
        400,
        "scenario.city_mix",
        f"at most {MAX_MIX_ENTRIES}",
    ),
    (
        "deep nesting",
        b'{"orders": 1, "scenario": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        400,
        "body",
        "8 levels",
    ),
    (
        "a 400-digit weight",
        b'{"orders": 1, "scenario": {"hourly_shape": [' + b"9" * 400 + b"," + b"1," * 22 + b"1]}}",
        400,
        "scenario.hourly_shape",
        "(400 digits)",
    ),
    (
        "a 400-digit order count",
        b'{"orders": ' + b"7" * 400 + b"}",
        400,
        "orders",
        "(400 digits)",
    ),
    (
        "weights summing to inf",
        body_of({"orders": 1, "scenario": {"city_mix": {f"C{i}": 1e308 for i in range(5)}}}),
        400,
        "scenario.city_mix",
        "1e+09",
    ),
    (
        "NaN",
        b'{"orders": 1, "scenario": {"price_scale": NaN}}',
        400,
        "scenario.price_scale",
        "0.1 .. 10",
    ),
    (
        "Infinity",
        b'{"orders": 1, "scenario": {"late_payment_rate": -Infinity}}',
        400,
        "scenario.late_payment_rate",
        "0 .. 1",
    ),
    (
        "a lone surrogate in a city",
        b'{"orders": 1, "scenario": {"city_mix": {"Pune\\ud800": 1}}}',
        400,
        "scenario.city_mix",
        "printable",
    ),
    (
        "NUL in a city",
        b'{"orders": 1, "scenario": {"city_mix": {"Pu\\u0000ne": 1}}}',
        400,
        "scenario.city_mix",
        "printable",
    ),
    (
        "a right-to-left override in a city",
        '{"orders": 1, "scenario": {"city_mix": {"Pune\u202eenuP": 1}}}'.encode(),
        400,
        "scenario.city_mix",
        "printable",
    ),
    (
        "a city name over the length limit",
        body_of({"orders": 1, "scenario": {"city_mix": {"P" * (MAX_NAME_CHARS + 1): 1}}}),
        400,
        "scenario.city_mix",
        f"1-{MAX_NAME_CHARS}",
    ),
    (
        "a 50 KB knob name",
        body_of({"orders": 1, "scenario": {"k" * 50_000: 1}}),
        400,
        "scenario.'kkkkkkkkkkkkkkkkkkkk'... (50000 characters)",
        "unknown scenario field",
    ),
    (
        "a 50 KB top-level field",
        body_of({"orders": 1, "x" * 50_000: 1}),
        400,
        "'xxxxxxxxxxxxxxxxxxxx'... (50000 characters)",
        "unknown field",
    ),
    ("UTF-16 garbage", b"\xff\xfe{\x00\xd8", 400, "body", "not valid JSON"),
]


@pytest.mark.parametrize(
    ("body", "status", "field", "message"),
    [case[1:] for case in HOSTILE],
    ids=[case[0] for case in HOSTILE],
)
def test_hostile_bodies_get_a_short_answer_naming_the_field_and_limit(
    body: bytes, status: int, field: str, message: str
) -> None:
    got_status, got, size = post(body)
    assert (got_status, got["field"]) == (status, field), got
    assert message in got["error"]
    assert size <= MAX_ANSWER_BYTES


def test_a_mix_of_the_largest_size_is_accepted() -> None:
    status, got, _ = post(
        body_of({"orders": 1, "scenario": {"city_mix": city_mix(MAX_MIX_ENTRIES)}})
    )
    assert status == 202, got


def test_catalog_bytes_per_city_bounds_what_a_catalog_takes() -> None:
    """The cache accounts each catalog at CATALOG_BYTES_PER_CITY a city: measured here."""
    catalog._cache.clear()
    for cities in (17, 100):
        scenario = Scenario().with_overrides({"city_mix": city_mix(cities, f"Town{cities}")})
        tracemalloc.start()
        try:
            built = catalog.catalog(scenario)
            held = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        assert built is not None
        assert held <= catalog.catalog_bytes(scenario), (cities, held)


def test_catalogs_of_many_bursts_stay_within_the_cache_budget() -> None:
    catalog._cache.clear()
    for n in range(8):
        status, got, _ = post(
            body_of({"orders": 1, "scenario": {"city_mix": city_mix(MAX_MIX_ENTRIES, f"B{n}")}})
        )
        assert status == 202, got
        assert catalog._cache.bytes <= catalog.CATALOG_CACHE_BYTES
    assert len(catalog._cache.built) < 8


def test_scenarios_differing_only_in_seed_share_one_catalog() -> None:
    assert catalog.catalog(Scenario(seed=11)) is catalog.catalog(Scenario(seed=12))


# --- the fuzz -----------------------------------------------------------------------------------
HOSTILE_TEXT = st.sampled_from(
    ["\ud800", "\udfff", "\u202e", "\u2066", "\x00", "\x1b[2J", "\n", ":", ",", " ", "\ufeff"]
)
TEXT = st.one_of(
    st.text(max_size=20),
    st.text(st.characters(codec=None, categories=None), max_size=20),
    st.builds(lambda a, b, c: a + b + c, st.text(max_size=5), HOSTILE_TEXT, st.text(max_size=5)),
    st.builds(lambda n: "x" * n, st.integers(0, 120_000)),
)
NUMBER = st.one_of(
    st.integers(-5, 2000),
    st.integers(-(10**40), 10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 5e-324, 0.0, -0.0, 2**63, 2**64, 10**18]),
)
SCALAR = st.one_of(st.none(), st.booleans(), NUMBER, TEXT)
JSON_VALUE = st.recursive(
    SCALAR,
    lambda children: st.one_of(
        st.lists(children, max_size=6), st.dictionaries(TEXT, children, max_size=6)
    ),
    max_leaves=20,
)


def _mix_value(count: int, stem: str, weight: Any, as_pairs: bool) -> Any:
    if as_pairs:
        return [[f"{stem}{i}", weight] for i in range(count)]
    return {f"{stem}{i}": weight for i in range(count)}


MIX = st.one_of(
    st.builds(
        _mix_value,
        st.integers(0, MAX_MIX_ENTRIES + 300),
        st.one_of(st.just("C"), TEXT),
        NUMBER,
        st.booleans(),
    ),
    st.dictionaries(TEXT, NUMBER, max_size=8),
    JSON_VALUE,
)
KNOB = st.one_of(st.sampled_from(FIELDS), TEXT)
SCENARIO = st.dictionaries(
    KNOB, st.one_of(MIX, JSON_VALUE, st.lists(NUMBER, min_size=0, max_size=30)), max_size=4
)
REQUEST = st.fixed_dictionaries(
    {},
    optional={
        "orders": st.one_of(st.integers(-2, MAX_ORDERS + 2), JSON_VALUE),
        "seed": st.one_of(st.integers(-2, 2**64), JSON_VALUE),
        "scenario": st.one_of(SCENARIO, JSON_VALUE),
        "extra": JSON_VALUE,
    },
)


def _encode(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


def _nest(depth: int, opener: str) -> bytes:
    closer = "]" if opener == "[" else "}"
    inner = '"a":' if opener == "{" else ""
    return (
        '{"orders": 1, "scenario": ' + (opener + inner) * depth + "1" + closer * depth + "}"
    ).encode()


def _mutate(body: bytes, cut: int, flip: int, byte: int) -> bytes:
    cut = cut % (len(body) + 1)
    data = bytearray(body[:cut] if cut else body)
    if data:
        data[flip % len(data)] = byte
    return bytes(data)


VALID = _encode({"orders": 2, "seed": 5, "scenario": {"city_mix": {"Pune": 2, "Goa": 1}}})
BODIES = st.one_of(
    st.binary(max_size=300),
    REQUEST.map(_encode),
    JSON_VALUE.map(_encode),
    st.builds(_nest, st.integers(1, 20_000), st.sampled_from("[{")),
    st.builds(lambda n: b'{"orders": 1' + b"0" * n + b"}", st.integers(0, 70_000)),
    st.builds(
        lambda e: b'{"orders": 1, "scenario": {"price_scale": 1e' + e + b"}}",
        st.sampled_from([b"999999", b"-999999", b"308", b"400"]),
    ),
    st.builds(
        _mutate, st.just(VALID), st.integers(0, 200), st.integers(0, 200), st.integers(0, 255)
    ),
)


def _measure(body: bytes) -> tuple[float, int, tuple[int, dict[str, Any], int]]:
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    answer = post(body)
    elapsed = time.perf_counter() - start
    return elapsed, tracemalloc.get_traced_memory()[1] - before, answer


@pytest.mark.slow
def test_burst_fuzz_answers_every_body_in_bounded_time_and_memory(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Baseline: the costliest legitimate request, a fresh catalog for a mix of the largest size.
    catalog._cache.clear()
    tracemalloc.start()
    try:
        times, peaks = [], []
        for n in range(3):
            mix = city_mix(MAX_MIX_ENTRIES, f"Baseline{n}")
            elapsed, peak, (status, got, _) = _measure(
                body_of({"orders": MAX_ORDERS, "scenario": {"city_mix": mix}})
            )
            assert status == 202, got
            times.append(elapsed)
            peaks.append(peak)
        time_bound = 3 * statistics.median(times)
        memory_bound = 2 * max(peaks)
        tried: dict[int, int] = {}
        worst = [0.0, 0]

        @settings(
            max_examples=2500,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(BODIES)
        def one(body: bytes) -> None:
            elapsed, peak, (status, got, size) = _measure(body)
            tried[status] = tried.get(status, 0) + 1
            worst[0] = max(worst[0], elapsed)
            worst[1] = max(worst[1], peak)
            assert status == 202 or 400 <= status < 500, (status, got)
            if status != 202:
                assert isinstance(got.get("error"), str) and isinstance(got.get("field"), str)
            assert size <= MAX_ANSWER_BYTES
            if elapsed > time_bound:  # once more: a pause of the machine is not the input's cost
                elapsed = min(elapsed, _measure(body)[0])
            assert elapsed <= time_bound, (elapsed, time_bound, body[:200])
            assert peak <= memory_bound, (peak, memory_bound, body[:200])

        one()
    finally:
        tracemalloc.stop()
    with capsys.disabled():
        print(
            f"\nburst fuzz: {sum(tried.values())} bodies, "
            f"answers by status {dict(sorted(tried.items()))}; "
            f"worst {worst[0] * 1000:.1f} ms / {worst[1] / 1e6:.1f} MB traced against a bound of "
            f"{time_bound * 1000:.0f} ms / {memory_bound / 1e6:.0f} MB "
            f"(a fresh {MAX_MIX_ENTRIES}-city burst x3 / x2)"
        )
    assert sum(tried.values()) >= 1000


@pytest.mark.azurite
def test_a_burst_at_every_limit_stores_its_manifest(azurite: Any) -> None:
    """200 cities of 60 Devanagari characters fit the body limit and Table storage's 64 KiB
    property limit (the manifest keeps its overrides as UTF-8 JSON, not \\u escapes)."""
    stem = ("पुणे" * 15)[: MAX_NAME_CHARS - 3]
    names = {f"{stem}{i:03d}": 1.0 for i in range(MAX_MIX_ENTRIES)}
    body = json.dumps({"orders": 1, "scenario": {"city_mix": names}}, ensure_ascii=False).encode()
    assert len(body) <= bursts.MAX_BODY_BYTES
    store = bursts.ManifestStore(azurite.connection_string, table=f"limits{uuid.uuid4().hex[:8]}")
    response = routes.run_burst(
        http("POST", "burst", body),
        Collector(),
        Collector(),
        settings=SETTINGS,
        manifests=store,
        now_ms=NOW,
    )
    got = json.loads(response.get_body())
    assert response.status_code == 202, got
    manifest = store.get(got["burst_id"], NOW)
    assert manifest is not None and dict(manifest.overrides)["city_mix"] == names
