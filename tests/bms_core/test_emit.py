"""The timer functions called as the host calls them: what their Event Hubs outputs hold."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import jsonschema
import pytest

import function_app
from bms_core import contract, emit, generator, names, timefmt
from bms_core.runtime import Runtime, running
from tests.bms_core.invocation import BrokenOutput, Collector, app_settings, timer

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


def valid_events(raw: Sequence[str], kind: str) -> list[dict[str, Any]]:
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


def bookings_tick(last_ms: int | None, settings: Any, now_ms: int, **kw: Any) -> Collector:
    out = Collector()
    emit.run_emit_bookings(timer(last_ms, **kw), out, settings=settings, now_ms=now_ms)
    return out


def test_first_tick_outputs_exactly_the_slot_that_just_closed() -> None:
    settings = app_settings()
    out = Collector()
    report = emit.run_emit_bookings(timer(None), out, settings=settings, now_ms=NOW)
    scenario = settings.scenario
    slot = generator.slot_at(scenario, NOW) - 1
    expected = generator.emit_bookings(scenario, slot)
    assert report.slots == 1
    assert report.events == len(expected) == len(out.bodies()) > 0
    assert out.bodies() == [e.body.decode() for e in expected]
    docs = valid_events(out.bodies(), "booking")
    assert len(docs) == len(out.bodies())  # no malformed rate: every body passes the schema
    assert len({d["event_id"] for d in docs}) == generator.slot_order_count(scenario, slot)
    for doc in docs:
        booked = timefmt.parse_ms(doc["booking_time"])
        assert slot_start(NOW) - SLOT_MS <= booked < slot_start(NOW) <= NOW  # never in the future


def test_every_valid_body_passes_the_published_schema_and_malformed_ones_are_counted() -> None:
    settings = app_settings({"BMS_MALFORMED_RATE": "0.2", "BMS_DUPLICATE_RATE": "0.2"})
    out = Collector()
    report = emit.run_emit_bookings(timer(NOW - 2 * SLOT_MS), out, settings=settings, now_ms=NOW)
    raw = out.bodies()
    valid = valid_events(raw, "booking")
    assert report.events == len(raw)
    assert report.by_kind.get("malformed", 0) == len(raw) - len(valid) > 0
    assert report.by_kind["booking"] == len(valid)
    ids = [d["event_id"] for d in valid]
    assert len(ids) - len(set(ids)) > 0  # duplicates are exact copies with the same id


def test_a_missed_tick_is_caught_up_on_the_next_one() -> None:
    settings = app_settings()
    # Regular ticks at t0 and t0 + 3 slots (two ticks missed in between) ...
    t0 = slot_start(NOW)
    caught_up = Collector()
    report = emit.run_emit_bookings(
        timer(t0, past_due=True), caught_up, settings=settings, now_ms=t0 + 3 * SLOT_MS + 50
    )
    assert report.slots == 3 and report.past_due
    # ... output what three punctual ticks would have.
    punctual: list[str] = []
    for k in range(1, 4):
        out = bookings_tick(t0 + (k - 1) * SLOT_MS, settings, t0 + k * SLOT_MS + 50)
        punctual += out.bodies()
    assert caught_up.bodies() == punctual


def test_catch_up_is_bounded_by_the_setting_and_says_what_it_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = app_settings({"BMS_MAX_CATCHUP_SLOTS": "4"})
    out = Collector()
    with caplog.at_level(logging.INFO, logger="bms.emit"):
        report = emit.run_emit_bookings(
            timer(NOW - 3_600_000, past_due=True), out, settings=settings, now_ms=NOW
        )
    assert report.slots == 4
    assert report.skipped_slots == 360 - 4
    assert report.window_start_ms == slot_start(NOW) - 4 * SLOT_MS
    scenario = settings.scenario
    end = generator.slot_at(scenario, NOW)
    expected = [e for s in range(end - 4, end) for e in generator.emit_bookings(scenario, s)]
    assert len(out.bodies()) == len(expected) == report.events
    logged = json.loads(caplog.records[-1].getMessage())
    assert logged["skipped_slots"] == 356 and logged["function"] == "emit_bookings"
    assert logged["events"] == len(expected)


def test_re_running_a_tick_outputs_identical_events() -> None:
    settings = app_settings({"BMS_DUPLICATE_RATE": "0.1"})
    first = bookings_tick(NOW - 2 * SLOT_MS, settings, NOW)
    second = bookings_tick(NOW - 2 * SLOT_MS, settings, NOW + 999)
    assert first.bodies() == second.bodies() and first.bodies()


def test_two_ticks_in_one_slot_output_nothing_twice() -> None:
    settings = app_settings()
    bookings_tick(NOW - SLOT_MS, settings, NOW)
    out = Collector()
    again = emit.run_emit_bookings(timer(NOW), out, settings=settings, now_ms=NOW + 100)
    assert again.slots == 0 and again.events == 0
    assert out.bodies() == []  # an empty list: the host sends nothing


def test_payments_come_out_at_their_due_times_on_a_simulated_clock() -> None:
    settings = app_settings()
    scenario = settings.scenario
    t0 = slot_start(NOW)
    sent_at: dict[str, int] = {}
    last = t0
    for tick in range(1, 13):  # two minutes of ticks, each 40 ms late
        now = t0 + tick * SLOT_MS + 40
        out = Collector()
        report = emit.run_emit_payments(
            timer(last), out, settings=settings, manifests=NoBursts(), now_ms=now
        )
        assert report.events == len(out.bodies())
        for body in out.bodies():
            sent_at.setdefault(body, now)
        last = now - 40
    docs = valid_events(list(sent_at), "payment")
    expected = generator.payments_due(scenario, t0, t0 + 12 * SLOT_MS)
    assert sorted(d["payment_id"] for d in docs) == sorted(p.payment_id for p in expected)
    for body, when in sent_at.items():
        doc = json.loads(body)
        due = timefmt.parse_ms(doc["payment_time"])
        assert due <= when < due + SLOT_MS + 40  # output on the first tick after it fell due


def test_an_output_that_cannot_be_written_fails_the_invocation() -> None:
    with pytest.raises(ConnectionError, match="Event Hubs unreachable"):
        emit.run_emit_bookings(timer(None), BrokenOutput(), settings=app_settings(), now_ms=NOW)
    with pytest.raises(ConnectionError):
        emit.run_emit_payments(
            timer(NOW - 3 * SLOT_MS),
            BrokenOutput(),
            settings=app_settings(),
            manifests=NoBursts(),
            now_ms=NOW,
        )


def test_no_body_reaches_the_output_over_the_size_an_event_may_have() -> None:
    event = generator.emit_bookings(app_settings().scenario, 0)[0]
    huge = event._replace(body=b"x" * (names.EVENT_MAX_BYTES + 1))
    assert emit.bodies_of([event]) == [event.body.decode()]
    with pytest.raises(emit.EmitFailed, match=f"{huge.event_id} is {names.EVENT_MAX_BYTES + 1}"):
        emit.bodies_of([event, huge])


def test_unreadable_burst_manifests_fail_the_tick_and_write_nothing() -> None:
    class Down:
        def active(self, start_ms: int, end_ms: int, max_delay_ms: int) -> list[Any]:
            raise ConnectionError("table endpoint unreachable")

    out = Collector()
    with pytest.raises(emit.EmitFailed, match=r"burst manifests unreadable.*ConnectionError"):
        emit.run_emit_payments(
            timer(NOW - 3 * SLOT_MS), out, settings=app_settings(), manifests=Down(), now_ms=NOW
        )
    assert out.value is None


def test_the_decorated_functions_run_the_same_handlers_with_the_runtime_s_dependencies() -> None:
    """The v2 Function objects are callable; the host passes the trigger and the outputs."""
    settings = app_settings()
    env = {"BMS_ORDERS_PER_MINUTE": "120", "BMS_SEED": "7"}
    runtime = Runtime(env, clock=lambda: NOW, manifests=NoBursts())
    bookings, payments = Collector(), Collector()
    with running(runtime):
        function_app.emit_bookings(timer(NOW - SLOT_MS), bookings)
        function_app.emit_payments(timer(NOW - 10 * SLOT_MS), payments)
    expected_bookings, expected_payments = Collector(), Collector()
    emit.run_emit_bookings(timer(NOW - SLOT_MS), expected_bookings, settings=settings, now_ms=NOW)
    emit.run_emit_payments(
        timer(NOW - 10 * SLOT_MS),
        expected_payments,
        settings=settings,
        manifests=NoBursts(),
        now_ms=NOW,
    )
    assert bookings.bodies() == expected_bookings.bodies() != []
    assert payments.bodies() == expected_payments.bodies() != []
