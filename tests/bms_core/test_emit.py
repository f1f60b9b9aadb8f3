"""The timer functions called as the host calls them: counts, contents, catch-up, idempotence."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import jsonschema
import pytest

import function_app
from bms_core import bursts, contract, emit, generator, timefmt
from bms_core.clock import use_clock
from bms_core.sending import MemorySink, SendResult
from tests.bms_core.invocation import app_settings, timer

SLOT_MS = 10_000
NOW = 1_795_000_003_000  # 3 s into a slot
VALIDATORS = {
    name: jsonschema.Draft202012Validator(schema)
    for name, schema in contract.json_schemas().items()
}


class NoBursts:
    def active(self, start_ms: int, end_ms: int, max_delay_ms: int) -> list[Any]:
        return []


def slot_start(ms: int) -> int:
    return ms - ms % SLOT_MS


def bodies(sink: MemorySink, hub: str) -> list[bytes]:
    return sink.bodies(hub)


def valid_events(raw: Sequence[bytes], kind: str) -> list[dict[str, Any]]:
    validator = VALIDATORS[f"{kind}.v1.schema.json"]
    out = []
    for body in raw:
        try:
            doc = json.loads(body)
        except ValueError:
            continue
        if validator.is_valid(doc):
            out.append(doc)
    return out


def test_first_tick_sends_exactly_the_slot_that_just_closed() -> None:
    settings = app_settings()
    sink = MemorySink()
    report = emit.run_emit_bookings(timer(None), settings, sink=sink, now_ms=NOW)
    scenario = settings.scenario
    slot = generator.slot_at(scenario, NOW) - 1
    expected = generator.emit_bookings(scenario, slot)
    assert report.slots == 1
    assert report.sent == len(expected) == len(bodies(sink, "bookings")) > 0
    assert sorted(bodies(sink, "bookings")) == sorted(e.body for e in expected)
    docs = valid_events(bodies(sink, "bookings"), "booking")
    assert len({d["event_id"] for d in docs}) == generator.slot_order_count(scenario, slot)
    for doc in docs:
        booked = timefmt.parse_ms(doc["booking_time"])
        assert slot_start(NOW) - SLOT_MS <= booked < slot_start(NOW) <= NOW  # never in the future


def test_every_valid_body_passes_the_published_schema_and_malformed_ones_are_counted() -> None:
    settings = app_settings({"BMS_MALFORMED_RATE": "0.2", "BMS_DUPLICATE_RATE": "0.2"})
    sink = MemorySink()
    report = emit.run_emit_bookings(timer(NOW - 2 * SLOT_MS), settings, sink=sink, now_ms=NOW)
    raw = bodies(sink, "bookings")
    valid = valid_events(raw, "booking")
    assert report.by_kind.get("malformed", 0) == len(raw) - len(valid) > 0
    ids = [d["event_id"] for d in valid]
    assert len(ids) - len(set(ids)) > 0  # duplicates are exact copies with the same id


def test_a_missed_tick_is_caught_up_on_the_next_one() -> None:
    settings = app_settings()
    # Regular ticks at t0 and t0 + 3 slots (two ticks missed in between) ...
    t0 = slot_start(NOW)
    caught_up = MemorySink()
    report = emit.run_emit_bookings(
        timer(t0, past_due=True), settings, sink=caught_up, now_ms=t0 + 3 * SLOT_MS + 50
    )
    assert report.slots == 3 and report.past_due
    # ... send what three punctual ticks would have sent.
    punctual = MemorySink()
    for k in range(1, 4):
        emit.run_emit_bookings(
            timer(t0 + (k - 1) * SLOT_MS), settings, sink=punctual, now_ms=t0 + k * SLOT_MS + 50
        )
    assert sorted(bodies(caught_up, "bookings")) == sorted(bodies(punctual, "bookings"))


def test_catch_up_is_bounded_by_the_setting_and_says_what_it_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = app_settings({"BMS_MAX_CATCHUP_SLOTS": "4"})
    sink = MemorySink()
    with caplog.at_level(logging.INFO, logger="bms.emit"):
        report = emit.run_emit_bookings(
            timer(NOW - 3_600_000, past_due=True), settings, sink=sink, now_ms=NOW
        )
    assert report.slots == 4
    assert report.skipped_slots == 360 - 4
    assert report.window_start_ms == slot_start(NOW) - 4 * SLOT_MS
    logged = json.loads(caplog.records[-1].getMessage())
    assert logged["skipped_slots"] == 356 and logged["function"] == "emit_bookings"


def test_re_running_a_tick_sends_identical_events() -> None:
    settings = app_settings({"BMS_DUPLICATE_RATE": "0.1"})
    first, second = MemorySink(), MemorySink()
    emit.run_emit_bookings(timer(NOW - 2 * SLOT_MS), settings, sink=first, now_ms=NOW)
    emit.run_emit_bookings(timer(NOW - 2 * SLOT_MS), settings, sink=second, now_ms=NOW + 999)
    assert first.sent == second.sent


def test_two_ticks_in_one_slot_send_nothing_twice() -> None:
    settings = app_settings()
    sink = MemorySink()
    emit.run_emit_bookings(timer(NOW - SLOT_MS), settings, sink=sink, now_ms=NOW)
    again = emit.run_emit_bookings(timer(NOW), settings, sink=sink, now_ms=NOW + 100)
    assert again.slots == 0 and again.events == 0


def test_payments_come_out_at_their_due_times_on_a_simulated_clock() -> None:
    settings = app_settings()
    scenario = settings.scenario
    t0 = slot_start(NOW)
    sink = MemorySink()
    sent_at: dict[bytes, int] = {}
    last = t0
    for tick in range(1, 13):  # two minutes of ticks, each 40 ms late
        now = t0 + tick * SLOT_MS + 40
        before = len(sink.bodies("payments"))
        emit.run_emit_payments(timer(last), settings, sink=sink, store=NoBursts(), now_ms=now)
        for body in sink.bodies("payments")[before:]:
            sent_at.setdefault(body, now)
        last = now - 40
    docs = valid_events(list(sent_at), "payment")
    expected = generator.payments_due(scenario, t0, t0 + 12 * SLOT_MS)
    assert sorted(d["payment_id"] for d in docs) == sorted(p.payment_id for p in expected)
    for body, when in sent_at.items():
        doc = json.loads(body)
        due = timefmt.parse_ms(doc["payment_time"])
        assert due <= when < due + SLOT_MS + 40  # sent on the first tick after it fell due


def test_failed_sends_raise_after_the_rest_went_out() -> None:
    class HalfBroken(MemorySink):
        def send(self, hub: str, events: Sequence[Any]) -> SendResult:
            result = super().send(hub, events[1:])
            result.failed.append((events[0].event_id, "ServiceBusy: try later"))
            return result

    sink = HalfBroken()
    with pytest.raises(emit.EmitFailed, match=r"1 of .* not sent to 'bookings'.*ServiceBusy"):
        emit.run_emit_bookings(timer(None), app_settings(), sink=sink, now_ms=NOW)
    assert len(sink.bodies("bookings")) > 0


def test_the_decorated_functions_run_through_the_same_handlers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The v2 Function objects are callable; the host passes only the trigger value."""
    monkeypatch.setenv("BMS_ORDERS_PER_MINUTE", "120")
    monkeypatch.setattr("bms_core.settings._cached", None)
    sink = MemorySink()
    with emit.use_sink(sink), bursts.use_store(NoBursts()), use_clock(lambda: NOW):  # type: ignore[arg-type]
        function_app.emit_bookings(timer(NOW - SLOT_MS))
        function_app.emit_payments(timer(NOW - SLOT_MS))
    assert len(sink.bodies("bookings")) > 0
    assert len(sink.bodies("payments")) > 0


def test_unreadable_burst_manifests_still_send_timer_payments_then_fail() -> None:
    class Down:
        def active(self, start_ms: int, end_ms: int, max_delay_ms: int) -> list[Any]:
            raise ConnectionError("table endpoint unreachable")

    sink = MemorySink()
    with pytest.raises(emit.EmitFailed, match=r"burst manifests unreadable.*ConnectionError"):
        emit.run_emit_payments(
            timer(NOW - 3 * SLOT_MS), app_settings(), sink=sink, store=Down(), now_ms=NOW
        )
    assert len(sink.bodies("payments")) > 0
