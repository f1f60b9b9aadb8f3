"""The scenario: documented defaults, BMS_* settings, flags, and a clear error per bad value."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bms_core.traffic.scenario as scenario_module
from bms_core.traffic.scenario import (
    FIELDS,
    Scenario,
    ScenarioError,
    env_name,
    format_setting,
    load_scenario,
)


def test_no_settings_gives_the_documented_defaults() -> None:
    s = load_scenario({})
    assert s == Scenario()
    assert (s.seed, s.slot_seconds, s.orders_per_minute) == (1, 10, 600.0)
    assert (s.duplicate_rate, s.malformed_rate) == (0.01, 0.0)


def test_every_setting_is_documented_in_the_module_docstring() -> None:
    doc = scenario_module.__doc__ or ""
    for field in FIELDS:
        assert f"``{env_name(field)}`` -> ``{field}``" in doc


def test_settings_are_read_from_bms_environment_names() -> None:
    s = load_scenario(
        {
            "BMS_SEED": "99",
            "BMS_SLOT_SECONDS": "5",
            "BMS_ORDERS_PER_MINUTE": "120.5",
            "BMS_DUPLICATE_RATE": "0.2",
            "BMS_MALFORMED_RATE": "0.05",
            "BMS_CITY_MIX": "Mumbai:3, Surat:1",
            "BMS_PAYMENT_METHOD_MIX": "UPI:1,Wallet:1",
            "BMS_WEEKDAY_SHAPE": "1,1,1,1,1,2,2",
            "UNRELATED": "x",
        }
    )
    assert (s.seed, s.slot_seconds, s.orders_per_minute) == (99, 5, 120.5)
    assert (s.duplicate_rate, s.malformed_rate) == (0.2, 0.05)
    assert s.city_mix == (("Mumbai", 3.0), ("Surat", 1.0))
    assert s.payment_method_mix == (("UPI", 1.0), ("Wallet", 1.0))
    assert s.weekday_shape == (1, 1, 1, 1, 1, 2, 2)


def test_blank_settings_keep_defaults() -> None:
    assert load_scenario({"BMS_SEED": " "}) == Scenario()


def test_every_field_round_trips_through_its_setting_text() -> None:
    s = Scenario()
    env = {env_name(f): format_setting(s, f) for f in FIELDS}
    assert load_scenario(env) == s


def test_overrides_accept_typed_values_and_dicts() -> None:
    s = Scenario().with_overrides(
        {"seed": 5, "outcome_mix": {"never_paid": 1, "paid_first_try": 3}}
    )
    assert s.seed == 5
    assert s.outcome_mix == (("never_paid", 1), ("paid_first_try", 3))


BAD_SETTINGS = [
    ("BMS_SEED", "-1", "0 .. 2**63-1"),
    ("BMS_SEED", "abc", "integer"),
    ("BMS_SLOT_SECONDS", "0", "1 .. 3600"),
    ("BMS_SLOT_SECONDS", "2.5", "integer"),
    ("BMS_ORDERS_PER_MINUTE", "-3", "0 .. 100000"),
    ("BMS_ORDERS_PER_MINUTE", "nan", "0 .. 100000"),
    ("BMS_HOURLY_SHAPE", "1,2,3", "24 non-negative weights"),
    ("BMS_WEEKDAY_SHAPE", "0,0,0,0,0,0,0", "at least one positive"),
    ("BMS_WEEKDAY_SHAPE", "1,1,1,1,1,1,-1", "7 non-negative weights"),
    ("BMS_CITY_MIX", "Mumbai", "name:weight"),
    ("BMS_CITY_MIX", "Mumbai:1,Mumbai:2", "appears twice"),
    ("BMS_EVENT_TYPE_MIX", "Opera:1", "Movie, Concert, Play, Sports, Comedy"),
    ("BMS_SEAT_CATEGORY_MIX", "Gold:0,Silver:0", "all weights are zero"),
    ("BMS_SEATS_PER_ORDER_WEIGHTS", "1,1", "10 non-negative weights"),
    ("BMS_PAYMENT_METHOD_MIX", "Cash:5", "UPI, Credit Card, Debit Card, Net Banking, Wallet"),
    ("BMS_CHANNEL_MIX", "Android:x", "must be a number"),
    ("BMS_OUTCOME_MIX", "paid:1", "paid_first_try, paid_after_retry"),
    ("BMS_PAYMENT_DELAY_MEDIAN_SECONDS", "0.1", "0.5 .. 600"),
    ("BMS_PAYMENT_DELAY_SPREAD", "4", "0 .. 3"),
    ("BMS_LATE_PAYMENT_RATE", "1.5", "0 .. 1"),
    ("BMS_RETRY_GAP_MAX_SECONDS", "500", "1 .. 120"),
    ("BMS_PRICE_SCALE", "0", "0.1 .. 10"),
    ("BMS_CONVENIENCE_FEE_PERCENT", "31", "0 .. 30"),
    ("BMS_DUPLICATE_RATE", "0.9", "0 .. 0.5"),
    ("BMS_MALFORMED_RATE", "-0.1", "0 .. 0.5"),
]


def test_every_setting_has_a_bad_value_case() -> None:
    assert {name for name, _, _ in BAD_SETTINGS} == {env_name(f) for f in FIELDS}


@pytest.mark.parametrize(("name", "value", "allowed"), BAD_SETTINGS)
def test_bad_setting_error_names_setting_and_allowed_range(
    name: str, value: str, allowed: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario({name: value})
    assert caught.value.setting == name
    assert str(caught.value).startswith(f"{name}: ")
    assert allowed in str(caught.value)


def test_bad_override_names_the_field() -> None:
    with pytest.raises(ScenarioError) as caught:
        Scenario().with_overrides({"duplicate_rate": 0.7})
    assert caught.value.setting == "duplicate_rate"
    with pytest.raises(ScenarioError, match="unknown scenario field"):
        Scenario().with_overrides({"dupe_rate": 0.1})


def test_direct_construction_is_checked_too() -> None:
    with pytest.raises(ScenarioError, match="slot_seconds"):
        Scenario(slot_seconds=0)
    with pytest.raises(ScenarioError, match="seed"):
        Scenario(seed=True)


def test_scenario_is_hashable_and_immutable() -> None:
    s = Scenario()
    assert hash(s) == hash(Scenario())
    with pytest.raises(AttributeError):
        s.seed = 3  # type: ignore[misc]


weights = st.floats(0, 1000, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**63 - 1),
    slot_seconds=st.integers(1, 3600),
    rate=st.floats(0, 100_000),
    dup=st.floats(0, 0.5),
    shape=st.lists(weights, min_size=24, max_size=24).filter(lambda w: sum(w) > 0),
)
def test_any_value_in_range_is_accepted_and_survives_the_environment(
    seed: int, slot_seconds: int, rate: float, dup: float, shape: list[float]
) -> None:
    s = Scenario().with_overrides(
        {
            "seed": seed,
            "slot_seconds": slot_seconds,
            "orders_per_minute": rate,
            "duplicate_rate": dup,
            "hourly_shape": shape,
        }
    )
    env = {env_name(f): repr(getattr(s, f)) for f in ("orders_per_minute", "duplicate_rate")}
    env["BMS_SEED"] = str(seed)
    env["BMS_HOURLY_SHAPE"] = ",".join(repr(w) for w in shape)
    loaded = load_scenario(env)
    assert (loaded.seed, loaded.orders_per_minute, loaded.duplicate_rate) == (seed, rate, dup)
    assert loaded.hourly_shape == tuple(shape)


@settings(max_examples=60, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True).filter(lambda x: not 0 <= x <= 0.5))
def test_any_rate_out_of_range_is_refused(value: float) -> None:
    with pytest.raises(ScenarioError, match=r"0 \.\. 0\.5"):
        Scenario().with_overrides({"malformed_rate": value})
