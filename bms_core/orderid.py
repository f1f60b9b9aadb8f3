"""Order ids that carry everything needed to regenerate their order.

An order is identified by ``OrderKey(namespace, seed, slot, index)``:

* timer orders: namespace ``"t"`` (:data:`TIMER_NAMESPACE`), ``slot`` = the slot number
  (``epoch_ms // (slot_seconds * 1000)``), ``index`` = position within the slot;
* burst orders: namespace = the burst id (``"b"`` + 8 to 16 lowercase letters or digits, e.g.
  :func:`new_burst_id`'s ``"b"`` + 10 base32 characters or ``"b"`` + 8 hex digits),
  ``slot`` = the burst's anchor epoch second, ``index`` = position within the burst.

The text form is ``<namespace>-<seed>-<slot>-<index>`` with the numbers in lowercase base 36,
e.g. ``t-1-4kq9nx-1b``. Decoding is strict (canonical digits only), so
``encode_order_id(decode_order_id(x)) == x`` for every accepted ``x``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final, NamedTuple

TIMER_NAMESPACE: Final = "t"
BURST_ID_PATTERN: Final = r"b[0-9a-z]{8,16}"
_BURST_ID: Final = re.compile(BURST_ID_PATTERN)
_BASE32: Final = "abcdefghijklmnopqrstuvwxyz234567"
_DIGITS: Final = "0123456789abcdefghijklmnopqrstuvwxyz"
_NUMBER: Final = re.compile(r"0|[1-9a-z][0-9a-z]*")
MAX_SLOT: Final = 36**12 - 1
MAX_INDEX: Final = 36**8 - 1
MAX_SEED: Final = 2**63 - 1


class OrderKey(NamedTuple):
    """What an order is a pure function of (together with the scenario)."""

    namespace: str
    seed: int
    slot: int
    index: int  # type: ignore[assignment]  # the API name; shadows tuple.index


def is_burst_id(text: str) -> bool:
    """True for ``"b"`` followed by 8 to 16 lowercase letters or digits."""
    return _BURST_ID.fullmatch(text) is not None


def check_burst_id(burst_id: str) -> str:
    """Return ``burst_id`` or raise ``ValueError`` saying what a burst id looks like."""
    if not isinstance(burst_id, str) or not is_burst_id(burst_id):
        raise ValueError(
            f"burst_id must be 'b' followed by 8 to 16 lowercase letters or digits, "
            f"got {burst_id!r}"
        )
    return burst_id


def new_burst_id() -> str:
    """A fresh random burst id, ``"b"`` + 10 base32 characters (bursts are named once)."""
    import secrets

    return "b" + "".join(secrets.choice(_BASE32) for _ in range(10))


def _base36(value: int) -> str:
    if value == 0:
        return "0"
    out = []
    while value:
        value, digit = divmod(value, 36)
        out.append(_DIGITS[digit])
    return "".join(reversed(out))


def encode_order_id(key: OrderKey) -> str:
    """The order id text for ``key``; raises ``ValueError`` naming the part out of range."""
    namespace, seed, slot, index = key
    if namespace != TIMER_NAMESPACE and not is_burst_id(namespace):
        raise ValueError(f"namespace must be 't' or a burst id, got {namespace!r}")
    for name, value, high in (
        ("seed", seed, MAX_SEED),
        ("slot", slot, MAX_SLOT),
        ("index", index, MAX_INDEX),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
            raise ValueError(f"order key {name} must be an integer in 0 .. {high}, got {value!r}")
    return f"{namespace}-{_base36(seed)}-{_base36(slot)}-{_base36(index)}"


index_text = lru_cache(maxsize=65536)(_base36)
"""The index part of an order id (lowercase base 36), memoised: indexes repeat every slot."""


@lru_cache(maxsize=4096)
def order_id_prefix(namespace: str, seed: int, slot: int) -> str:
    """``"<namespace>-<seed>-<slot>-"``: the order id of a valid key is this + its index text."""
    return f"{namespace}-{_base36(seed)}-{_base36(slot)}-"


def order_id_of(namespace: str, seed: int, slot: int, index: int) -> str:
    """Fast :func:`encode_order_id` for keys already known valid (the generator's own)."""
    return order_id_prefix(namespace, seed, slot) + index_text(index)


def decode_order_id(order_id: str) -> OrderKey:
    """Inverse of :func:`encode_order_id`; ``ValueError`` naming ``order_id`` if malformed."""
    parts = order_id.split("-") if isinstance(order_id, str) else []
    if len(parts) != 4:
        raise ValueError(
            f"order_id {order_id!r} is not '<namespace>-<seed>-<slot>-<index>' "
            "(namespace 't' or a burst id, numbers in lowercase base 36)"
        )
    namespace, *numbers = parts
    if namespace != TIMER_NAMESPACE and not is_burst_id(namespace):
        raise ValueError(f"order_id {order_id!r}: namespace must be 't' or a burst id")
    values = []
    for name, text, high in zip(
        ("seed", "slot", "index"), numbers, (MAX_SEED, MAX_SLOT, MAX_INDEX), strict=True
    ):
        if _NUMBER.fullmatch(text) is None:
            raise ValueError(f"order_id {order_id!r}: {name} {text!r} is not canonical base 36")
        value = int(text, 36)
        if value > high:
            raise ValueError(f"order_id {order_id!r}: {name} is above {high}")
        values.append(value)
    return OrderKey(namespace, values[0], values[1], values[2])
