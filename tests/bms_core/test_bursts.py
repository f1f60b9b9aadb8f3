"""POST /api/burst: bad requests answered precisely; manifests in a real Azurite drive payments."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from bms_core import bursts, emit, endpoints, generator, timefmt
from tests.bms_core.invocation import BrokenOutput, Collector, app_settings, http, timer

NOW = 1_795_000_003_456
SLOT_MS = 10_000


class NoStore:
    """Bad requests must be refused before storage is touched."""

    def put(self, manifest: Any) -> None:
        raise AssertionError("a bad request reached the manifest store")


def call(body: bytes, method: str = "POST", **extra: str) -> tuple[int, dict[str, Any]]:
    response = endpoints.run_burst(
        http(method, "burst", body),
        Collector(),
        Collector(),
        settings=app_settings(extra),
        manifests=NoStore(),
    )
    assert response.mimetype == "application/json"
    return response.status_code, json.loads(response.get_body())


BAD_REQUESTS = [
    ("GET", b"", 405, "method", "method GET not allowed; use POST"),
    ("PUT", b'{"orders": 5}', 405, "method", "use POST"),
    ("POST", b"", 400, "body", "request body is empty"),
    ("POST", b"orders=5", 400, "body", "not valid JSON"),
    ("POST", b"\xff\xfe{", 400, "body", "not valid JSON"),
    ("POST", b"[5]", 400, "body", "must be a JSON object"),
    ("POST", b"{}", 400, "orders", "orders is required"),
    ("POST", b'{"orders": "10"}', 400, "orders", "whole number, got '10'"),
    ("POST", b'{"orders": 2.5}', 400, "orders", "whole number, got 2.5"),
    ("POST", b'{"orders": true}', 400, "orders", "whole number, got True"),
    ("POST", b'{"orders": 0}', 400, "orders", "at least 1, got 0"),
    (
        "POST",
        b'{"orders": 1001}',
        400,
        "orders",
        "at most 1000 (the limit BMS_BURST_MAX_ORDERS), got 1001",
    ),
    ("POST", b'{"orders": 5, "seed": -1}', 400, "seed", "between 0 and"),
    ("POST", b'{"orders": 5, "seed": "abc"}', 400, "seed", "whole number"),
    ("POST", b'{"orders": 5, "scenario": [1]}', 400, "scenario", "JSON object"),
    ("POST", b'{"orders": 5, "ordres": 5}', 400, "ordres", "unknown field 'ordres'"),
    (
        "POST",
        b'{"orders": 5, "scenario": {"no_such_knob": 1}}',
        400,
        "scenario.no_such_knob",
        "unknown scenario field",
    ),
    (
        "POST",
        b'{"orders": 5, "scenario": {"duplicate_rate": 7}}',
        400,
        "scenario.duplicate_rate",
        "duplicate_rate",
    ),
    ("POST", b'{"orders": 5, "scenario": {"seed": 3}}', 400, "scenario.seed", "top-level"),
]


@pytest.mark.parametrize(("method", "body", "status", "field", "message"), BAD_REQUESTS)
def test_bad_burst_requests_get_a_status_and_a_message_naming_the_field(
    method: str, body: bytes, status: int, field: str, message: str
) -> None:
    got_status, got = call(body, method)
    assert got_status == status
    assert got["field"] == field
    assert message in got["error"]


def test_the_order_limit_comes_from_the_setting() -> None:
    status, got = call(b'{"orders": 51}', BMS_BURST_MAX_ORDERS="50")
    assert status == 400 and "at most 50" in got["error"]


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_every_routed_wrong_method_says_which_method_is_allowed(method: str) -> None:
    import function_app

    response = function_app.burst(http(method, "burst", b'{"orders": 1}'), Collector(), Collector())
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert json.loads(response.get_body())["field"] == "method"


def test_manifest_survives_the_entity_round_trip() -> None:
    manifest = bursts.BurstManifest(
        burst_id="bexample01",
        seed=2**40,
        orders=3,
        anchor_ms=NOW - NOW % 1000,
        overrides={"duplicate_rate": 0.5},
        first_payment_due_ms=NOW + 1,
        last_payment_due_ms=NOW + 2,
        payments_scheduled=4,
        bookings_sent=3,
        created_ms=NOW,
    )
    entity = manifest.to_entity()
    assert entity["PartitionKey"] == bursts.partition_for_anchor(NOW)
    assert entity["RowKey"] == "bexample01"
    assert bursts.BurstManifest.from_entity(entity) == manifest


# --- against a real Azurite -------------------------------------------------------------------
@pytest.fixture
def store(azurite: Any) -> bursts.ManifestStore:
    table = "bursts" + uuid.uuid4().hex[:12]
    return bursts.ManifestStore(azurite.connection_string, table=table)


def _manifest(burst_id: str, anchor: int, first: int, last: int) -> bursts.BurstManifest:
    return bursts.BurstManifest(burst_id, 1, 2, anchor, {}, first, last, 2, 2, anchor)


@pytest.mark.azurite
def test_active_lists_bursts_with_payments_due_in_the_window(store: bursts.ManifestStore) -> None:
    hour = 3_600_000
    base = NOW - NOW % hour
    store.put(_manifest("bearlier001", base - 1000, base - 500, base + 60_000))  # previous hour
    store.put(_manifest("bwithin0001", base + 1000, base + 2000, base + 5000))
    store.put(_manifest("bfinished01", base - 600_000, base - 590_000, base - 100))
    store.put(_manifest("blater00001", base + 10_000, base + 20_000, base + 30_000))
    found = store.active(base, base + 10_000, generator.MAX_PAYMENT_DELAY_MS)
    assert [m.burst_id for m in found] == ["bearlier001", "bwithin0001"]
    assert store.get("bwithin0001", base + 1000) == found[1]
    assert store.get("bnotthere01", base) is None


@pytest.mark.azurite
def test_a_burst_sends_its_bookings_now_and_its_payments_when_due(
    store: bursts.ManifestStore,
) -> None:
    settings = app_settings({"BMS_ORDERS_PER_MINUTE": "0"})
    booked, paid = Collector(), Collector()
    body = json.dumps(
        {
            "orders": 25,
            "seed": 99,
            "scenario": {"payment_delay_median_seconds": 5, "late_payment_rate": 0},
        }
    ).encode()
    response = endpoints.run_burst(
        http("POST", "burst", body), booked, paid, settings=settings, manifests=store, now_ms=NOW
    )
    assert response.status_code == 202
    answer = json.loads(response.get_body())
    assert answer["orders"] == 25 and answer["bookings_sent"] == 25
    burst_id = answer["burst_id"]

    bookings = [json.loads(b) for b in booked.bodies()]
    assert len({b["event_id"] for b in bookings}) == 25
    assert {b["order_id"].split("-")[0] for b in bookings} == {burst_id}
    assert all(timefmt.parse_ms(b["booking_time"]) <= NOW for b in bookings)

    manifest = store.get(burst_id, NOW)
    assert manifest is not None and manifest.seed == 99 and manifest.orders == 25
    assert manifest.overrides == {"payment_delay_median_seconds": 5, "late_payment_rate": 0}
    first_due, last_due = manifest.first_payment_due_ms, manifest.last_payment_due_ms
    assert first_due is not None and last_due is not None
    assert answer["first_payment_due"] == timefmt.format_ms(first_due)
    assert answer["last_payment_due"] == timefmt.format_ms(last_due)

    # The payments timer ticks every slot on a simulated clock until the last payment is due.
    scenario = bursts.scenario_of(settings.scenario, manifest)
    truth = {
        p.payment_id: timefmt.parse_ms(p.payment_time)
        for order in generator.burst_orders(scenario, burst_id, 25, manifest.anchor_ms)
        for p in order.payments
    }
    assert len(truth) == answer["payments_scheduled"]
    sent_at = {json.loads(raw)["payment_id"]: NOW for raw in paid.bodies()}
    tick = NOW - NOW % SLOT_MS
    while tick <= last_due + SLOT_MS:
        now = tick + SLOT_MS + 25
        out = Collector()
        emit.run_emit_payments(timer(tick), out, settings=settings, manifests=store, now_ms=now)
        for raw in out.bodies():
            sent_at.setdefault(json.loads(raw)["payment_id"], now)
        tick += SLOT_MS
    assert set(sent_at) == set(truth)
    for payment_id, when in sent_at.items():
        assert truth[payment_id] <= when < truth[payment_id] + SLOT_MS + 25 + 1


@pytest.mark.azurite
def test_storage_failure_is_a_503_not_a_500(azurite: Any) -> None:
    broken = bursts.ManifestStore(
        azurite.connection_string.replace(str(azurite.table_port), "1"), table="nothere"
    )
    booked, paid = Collector(), Collector()
    response = endpoints.run_burst(
        http("POST", "burst", b'{"orders": 2}'),
        booked,
        paid,
        settings=app_settings(),
        manifests=broken,
    )
    assert response.status_code == 503
    assert booked.value is None and paid.value is None  # no manifest, no events
    assert "burst manifest not stored" in json.loads(response.get_body())["error"]


@pytest.mark.azurite
def test_payments_already_due_in_a_ticked_slot_are_sent_with_the_burst(
    store: bursts.ManifestStore,
) -> None:
    """A burst just after a slot boundary has bookings in the slot the timer already ticked."""
    settings = app_settings({"BMS_ORDERS_PER_MINUTE": "0"})
    boundary = NOW - NOW % SLOT_MS
    now = boundary + 300
    booked, paid = Collector(), Collector()
    body = b'{"orders": 200, "scenario": {"payment_delay_median_seconds": 1}}'
    response = endpoints.run_burst(
        http("POST", "burst", body), booked, paid, settings=settings, manifests=store, now_ms=now
    )
    assert response.status_code == 202
    answer = json.loads(response.get_body())
    manifest = store.get(answer["burst_id"], now)
    assert manifest is not None
    scenario = bursts.scenario_of(settings.scenario, manifest)
    orders = generator.burst_orders(scenario, answer["burst_id"], 200, manifest.anchor_ms)
    early = {
        p.payment_id
        for o in orders
        for p in o.payments
        if timefmt.parse_ms(p.payment_time) < boundary
    }
    assert early  # the case this test is about occurs
    sent_now = [json.loads(b)["payment_id"] for b in paid.bodies()]
    assert set(sent_now) == early
    assert all(timefmt.parse_ms(json.loads(b)["payment_time"]) <= now for b in paid.bodies())
    # The next tick (covering the slot from the boundary) sends the rest that fell due in it.
    tick = Collector()
    emit.run_emit_payments(
        timer(boundary), tick, settings=settings, manifests=store, now_ms=boundary + SLOT_MS + 5
    )
    due_by_then = {
        p.payment_id
        for o in orders
        for p in o.payments
        if timefmt.parse_ms(p.payment_time) < boundary + SLOT_MS
    }
    sent = {json.loads(b)["payment_id"] for b in [*paid.bodies(), *tick.bodies()]}
    assert sent == due_by_then


def test_a_burst_whose_output_cannot_be_written_fails_after_storing_its_manifest() -> None:
    """The host answers 500; the manifest is already stored, so its payments still follow."""

    class Kept:
        def __init__(self) -> None:
            self.manifests: list[Any] = []

        def put(self, manifest: Any) -> None:
            self.manifests.append(manifest)

    store = Kept()
    with pytest.raises(ConnectionError):
        endpoints.run_burst(
            http("POST", "burst", b'{"orders": 3}'),
            BrokenOutput(),
            Collector(),
            settings=app_settings(),
            manifests=store,
            now_ms=NOW,
        )
    assert len(store.manifests) == 1
