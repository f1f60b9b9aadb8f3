"""AMQP codec, frames and stored-message splicing (no network)."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bms_local.eventhubs import frames as F
from bms_local.eventhubs.codec import (
    Array,
    DecodeError,
    Described,
    Symbol,
    Timestamp,
    UInt,
    ULong,
    decode,
    encoded,
    skip,
)
from bms_local.eventhubs.messages import delivery_bytes, split_message, unpack_batch

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.text(max_size=300)
    | st.binary(max_size=300)
    | st.builds(Symbol, st.text(alphabet="abcdefghij:-", max_size=20)),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)


@given(values)
def test_every_value_round_trips_and_skips(value: object) -> None:
    data = encoded(value)
    decoded, end = decode(data)
    assert decoded == value
    assert end == len(data) == skip(data, 0)


def test_typed_values_keep_their_type() -> None:
    for value in (UInt(7), ULong(300), Timestamp(1_700_000_000_000), Symbol("x-opt-offset")):
        decoded, _ = decode(encoded(value))
        assert type(decoded) is type(value) and decoded == value
    assert decode(encoded(uuid.UUID(int=5)))[0] == uuid.UUID(int=5)
    assert decode(encoded(Array("string", ["0", "1"])))[0] == ["0", "1"]
    assert decode(encoded(Described(ULong(0x28), ["$cbs"])))[0] == Described(0x28, ["$cbs"])


@pytest.mark.parametrize(
    "data", [b"", b"\x01", b"\xa1\x05ab", b"\xd0\x00\x00\x00\xff\x00\x00\x00\x01", b"\x00"]
)
def test_malformed_bytes_raise_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(data)


def test_performatives_go_out_with_every_field() -> None:
    frame = F.performative_frame(F.ATTACH, ["link", UInt(0), True])
    code, fields, payload = F.parse_body(frame[8:])
    assert code == F.ATTACH and len(fields) == 14 and payload == b""
    described, _ = decode(frame[8:])
    assert len(described.value) == 14  # padded on the wire, not only when parsed


def _message(*sections: tuple[int, object]) -> bytes:
    return b"".join(encoded(Described(ULong(code), value)) for code, value in sections)


def test_service_annotations_are_spliced_into_stored_messages() -> None:
    data = _message(
        (0x70, [True]),
        (0x71, {Symbol("per-hop"): 1}),
        (0x72, {Symbol("x-opt-partition-key"): "k1", Symbol("mine"): 5}),
        (0x74, {"kind": "booking"}),
        (0x75, b"body"),
    )
    parts = split_message(data)
    assert parts.partition_key == "k1"
    out = delivery_bytes(parts, 42, 1234, 1_700_000_000_000)
    pos, sections = 0, {}
    while pos < len(out):
        value, pos = decode(out, pos)
        sections[value.descriptor] = value.value
    assert 0x71 not in sections
    annotations = sections[0x72]
    assert annotations["x-opt-sequence-number"] == 42
    assert annotations["x-opt-offset"] == "1234"
    assert annotations["x-opt-enqueued-time"] == 1_700_000_000_000
    assert annotations["x-opt-partition-key"] == "k1" and annotations["mine"] == 5
    assert sections[0x74] == {"kind": "booking"} and sections[0x75] == b"body"


def test_batches_unpack_into_their_inner_messages() -> None:
    inner = [_message((0x75, f"e{i}".encode())) for i in range(3)]
    outer = _message((0x72, {Symbol("x-opt-partition-key"): "k"}), *[(0x75, m) for m in inner])
    parts = split_message(outer)
    assert unpack_batch(parts) == inner
    assert parts.partition_key == "k"
    with pytest.raises(DecodeError):
        split_message(b"\x00\x53\x99\x40")


@pytest.mark.parametrize(
    ("delivery_id", "settled", "more"), [(7, True, False), (None, False, True)]
)
def test_fast_transfer_frames_match_the_general_encoder(
    delivery_id: int | None, settled: bool, more: bool
) -> None:
    fast = F.transfer_frame(3, 2, delivery_id, b"tag", settled, more, b"payload")
    general = F.performative_frame(
        F.TRANSFER,
        [
            UInt(2),
            None if delivery_id is None else UInt(delivery_id),
            b"tag",
            UInt(0),
            settled,
            more,
        ],
        3,
        b"payload",
    )
    assert fast[4:8] == general[4:8]  # data offset, frame type, channel
    assert F.parse_body(fast[8:]) == F.parse_body(general[8:])
