"""Order ids carry their key: they round-trip exactly and reject anything else by name."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bms_core.orderid import (
    MAX_INDEX,
    MAX_SEED,
    MAX_SLOT,
    TIMER_NAMESPACE,
    OrderKey,
    check_burst_id,
    decode_order_id,
    encode_order_id,
    is_burst_id,
    new_burst_id,
    order_id_of,
)

burst_ids = st.from_regex(r"b[a-z2-7]{10}", fullmatch=True)
keys = st.builds(
    OrderKey,
    st.one_of(st.just(TIMER_NAMESPACE), burst_ids),
    st.integers(0, MAX_SEED),
    st.integers(0, MAX_SLOT),
    st.integers(0, MAX_INDEX),
)


@given(keys)
def test_every_key_round_trips_through_its_order_id(key: OrderKey) -> None:
    order_id = encode_order_id(key)
    assert decode_order_id(order_id) == key
    assert len(order_id) <= 64 - len("-p9")
    assert order_id_of(*key) == order_id


def test_timer_order_id_reads_as_namespace_seed_slot_index() -> None:
    assert encode_order_id(OrderKey("t", 1, 36, 35)) == "t-1-10-z"
    assert decode_order_id("t-1-10-z") == OrderKey("t", 1, 36, 35)


def test_burst_ids_from_new_burst_id_are_valid_and_distinct() -> None:
    ids = {new_burst_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(is_burst_id(b) and check_burst_id(b) == b for b in ids)


def test_hex_burst_ids_are_accepted_too() -> None:
    assert is_burst_id("b0a1b2c3d")


@pytest.mark.parametrize("bad", ["", "B12345678", "b1234567", "b" + "a" * 17, "babc-defghi", "x"])
def test_bad_burst_id_is_refused_with_the_rule(bad: str) -> None:
    with pytest.raises(ValueError, match="burst_id must be 'b' followed by"):
        check_burst_id(bad)


@pytest.mark.parametrize(
    "bad",
    [
        "t-1-2",
        "t-1-2-3-4",
        "x-1-2-3",
        "t-01-2-3",
        "t-1-A-3",
        "t--2-3",
        "t-1-2-" + "z" * 9,
        "",
    ],
)
def test_malformed_order_id_raises_naming_it(bad: str) -> None:
    with pytest.raises(ValueError, match="order_id"):
        decode_order_id(bad)


@pytest.mark.parametrize(
    ("key", "part"),
    [
        (OrderKey("t", -1, 0, 0), "seed"),
        (OrderKey("t", 0, -5, 0), "slot"),
        (OrderKey("t", 0, 0, MAX_INDEX + 1), "index"),
        (OrderKey("q", 0, 0, 0), "namespace"),
    ],
)
def test_encoding_an_impossible_key_names_the_part(key: OrderKey, part: str) -> None:
    with pytest.raises(ValueError, match=part):
        encode_order_id(key)
