"""The scenario: every knob of the simulated traffic, with explicit defaults, in one object.

A :class:`Scenario` is immutable and hashable; the generator caches tables derived from it.
Build one with ``Scenario()`` (all defaults), ``load_scenario()`` (from ``BMS_*`` environment
variables / app settings) or ``scenario.with_overrides({...})`` (CLI flags, tests). Every
invalid value raises :class:`ScenarioError` naming the setting and its allowed range.

Settings (environment variable -> field, default, allowed values):

``BMS_SEED`` -> ``seed`` (1)
    Integer 0 .. 2**63-1. Same seed, same traffic, byte for byte.
``BMS_SLOT_SECONDS`` -> ``slot_seconds`` (10)
    Integer 1 .. 3600. The timer's period: bookings are generated per slot of this length.
``BMS_ORDERS_PER_MINUTE`` -> ``orders_per_minute`` (600)
    Number 0 .. 100000. The weekly average rate; the shapes below scale it hour by hour.
``BMS_HOURLY_SHAPE`` -> ``hourly_shape``
    24 comma-separated non-negative weights, IST hours 00..23 (at least one positive); used
    relative to their mean. Default: quiet nights, a lunch bump and an evening peak 18-22 IST.
``BMS_WEEKDAY_SHAPE`` -> ``weekday_shape``
    7 comma-separated non-negative weights, Monday..Sunday IST, relative to their mean.
    Default: Friday evening rise and weekend peaks.
``BMS_CITY_MIX`` -> ``city_mix``
    ``name:weight,...`` any city names (1-60 printable characters: no control, format or
    surrogate characters, no ``:`` or ``,``, no leading or trailing space), at most 200 of
    them. Default: Indian metros weighted above tier-2 cities.
``BMS_EVENT_TYPE_MIX`` -> ``event_type_mix``
    ``type:weight,...`` over Movie, Concert, Play, Sports, Comedy. Default: Movie dominant.
``BMS_SEAT_CATEGORY_MIX`` -> ``seat_category_mix``
    ``category:weight,...`` over Recliner, Platinum, Gold, Silver.
``BMS_SEATS_PER_ORDER_WEIGHTS`` -> ``seats_per_order_weights``
    10 comma-separated weights for 1..10 seats. Default skewed to 2 seats.
``BMS_PAYMENT_METHOD_MIX`` -> ``payment_method_mix``
    ``method:weight,...`` over UPI, Credit Card, Debit Card, Net Banking, Wallet. UPI dominant.
``BMS_CHANNEL_MIX`` -> ``channel_mix``
    ``channel:weight,...`` over Android, iOS, Web, Partner.
``BMS_OUTCOME_MIX`` -> ``outcome_mix``
    ``outcome:weight,...`` over paid_first_try, paid_after_retry, failed_abandoned, never_paid.
``BMS_PAYMENT_DELAY_MEDIAN_SECONDS`` -> ``payment_delay_median_seconds`` (20)
    Number 0.5 .. 600. Median delay from booking to the first payment attempt.
``BMS_PAYMENT_DELAY_SPREAD`` -> ``payment_delay_spread`` (1.0)
    Number 0 .. 3: the log-normal sigma of that delay (bigger = longer tail). Capped at the
    15-minute join window; with the defaults most first attempts land within a minute.
``BMS_LATE_PAYMENT_RATE`` -> ``late_payment_rate`` (0.03)
    Number 0 .. 1: share of paying orders whose first attempt comes after the join window
    (901-1200 s after booking), so they never join.
``BMS_RETRY_GAP_MAX_SECONDS`` -> ``retry_gap_max_seconds`` (90)
    Number 1 .. 120: gaps between attempts are uniform in [1 s, this].
``BMS_PRICE_SCALE`` -> ``price_scale`` (1.0)
    Number 0.1 .. 10: multiplies every ticket price.
``BMS_CONVENIENCE_FEE_PERCENT`` -> ``convenience_fee_percent`` (10)
    Number 0 .. 30: per-ticket convenience fee as a share of the ticket price, rounded to the
    rupee, at least Rs 10 when the percent is above 0; GST of 18% applies to the fee.
``BMS_DUPLICATE_RATE`` -> ``duplicate_rate`` (0.01)
    Number 0 .. 0.5: share of events delivered twice (exact byte copies).
``BMS_MALFORMED_RATE`` -> ``malformed_rate`` (0)
    Number 0 .. 0.5: share of events followed by a deliberately malformed one (bad JSON, bad
    timestamp, missing field, wrong type) for testing consumers. Off by default.

Every weight (shapes and mixes) is a finite number in 0 .. 1e9; weights are relative, so the
bound costs nothing and keeps every sum finite. A mix has at most 200 entries (the catalog of a
scenario grows by about 200 KB per city). A value at fault is quoted in errors by a short
excerpt only (:func:`bms_core.untrusted.excerpt`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import Final

import msgspec

from bms_core.contract import CHANNELS, EVENT_TYPES, PAYMENT_METHODS, SEAT_CATEGORIES
from bms_core.untrusted import excerpt

OUTCOME_NAMES: Final = ("paid_first_try", "paid_after_retry", "failed_abandoned", "never_paid")
MAX_SEED: Final = 2**63 - 1
MAX_MIX_ENTRIES: Final = 200
"""The most entries a mix may have (cities included)."""
MAX_NAME_CHARS: Final = 60
"""The longest city name, in characters."""
MAX_WEIGHT: Final = 1e9
"""The largest weight in a shape or a mix (weights are relative; this keeps sums finite)."""

Mix = tuple[tuple[str, float], ...]
"""Named weights, e.g. ``(("UPI", 60.0), ("Wallet", 10.0))``; used relative to their sum."""


class ScenarioError(ValueError):
    """An invalid scenario value; ``setting`` is the ``BMS_*`` setting or field at fault."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting


DEFAULT_HOURLY_SHAPE: Final[tuple[float, ...]] = (
    # 00   01   02   03   04   05   06   07   08   09   10   11  (IST)
    0.35, 0.2, 0.1, 0.06, 0.05, 0.08, 0.2, 0.4, 0.6, 0.8, 1.0, 1.15,
    # 12   13   14   15   16   17   18   19   20   21   22   23
    1.3, 1.3, 1.1, 1.1, 1.3, 1.6, 2.0, 2.3, 2.2, 1.8, 1.2, 0.7,
)  # fmt: skip
DEFAULT_WEEKDAY_SHAPE: Final[tuple[float, ...]] = (0.8, 0.75, 0.8, 0.85, 1.1, 1.45, 1.35)
DEFAULT_CITY_MIX: Final[Mix] = (
    ("Mumbai", 15.0),
    ("Delhi", 14.0),
    ("Bengaluru", 13.0),
    ("Hyderabad", 9.0),
    ("Chennai", 8.0),
    ("Kolkata", 7.0),
    ("Pune", 7.0),
    ("Ahmedabad", 5.0),
    ("Jaipur", 4.0),
    ("Lucknow", 3.5),
    ("Kochi", 3.0),
    ("Chandigarh", 3.0),
    ("Indore", 2.5),
    ("Coimbatore", 2.0),
    ("Nagpur", 2.0),
    ("Bhopal", 1.5),
    ("Visakhapatnam", 1.5),
)
DEFAULT_EVENT_TYPE_MIX: Final[Mix] = (
    ("Movie", 62.0),
    ("Concert", 12.0),
    ("Play", 6.0),
    ("Sports", 12.0),
    ("Comedy", 8.0),
)
DEFAULT_SEAT_CATEGORY_MIX: Final[Mix] = (
    ("Recliner", 8.0),
    ("Platinum", 17.0),
    ("Gold", 40.0),
    ("Silver", 35.0),
)
DEFAULT_SEATS_PER_ORDER: Final[tuple[float, ...]] = (18, 40, 13, 14, 5, 4, 2, 2, 1, 1)
DEFAULT_PAYMENT_METHOD_MIX: Final[Mix] = (
    ("UPI", 60.0),
    ("Credit Card", 12.0),
    ("Debit Card", 11.0),
    ("Net Banking", 6.0),
    ("Wallet", 11.0),
)
DEFAULT_CHANNEL_MIX: Final[Mix] = (
    ("Android", 52.0),
    ("iOS", 18.0),
    ("Web", 25.0),
    ("Partner", 5.0),
)
DEFAULT_OUTCOME_MIX: Final[Mix] = (
    ("paid_first_try", 80.0),
    ("paid_after_retry", 9.0),
    ("failed_abandoned", 5.0),
    ("never_paid", 6.0),
)


class Scenario(msgspec.Struct, frozen=True, kw_only=True, cache_hash=True):
    """Every knob of the generated traffic; see the module docstring for each setting."""

    seed: int = 1
    slot_seconds: int = 10
    orders_per_minute: float = 600.0
    hourly_shape: tuple[float, ...] = DEFAULT_HOURLY_SHAPE
    weekday_shape: tuple[float, ...] = DEFAULT_WEEKDAY_SHAPE
    city_mix: Mix = DEFAULT_CITY_MIX
    event_type_mix: Mix = DEFAULT_EVENT_TYPE_MIX
    seat_category_mix: Mix = DEFAULT_SEAT_CATEGORY_MIX
    seats_per_order_weights: tuple[float, ...] = DEFAULT_SEATS_PER_ORDER
    payment_method_mix: Mix = DEFAULT_PAYMENT_METHOD_MIX
    channel_mix: Mix = DEFAULT_CHANNEL_MIX
    outcome_mix: Mix = DEFAULT_OUTCOME_MIX
    payment_delay_median_seconds: float = 20.0
    payment_delay_spread: float = 1.0
    late_payment_rate: float = 0.03
    retry_gap_max_seconds: float = 90.0
    price_scale: float = 1.0
    convenience_fee_percent: float = 10.0
    duplicate_rate: float = 0.01
    malformed_rate: float = 0.0

    def __post_init__(self) -> None:
        for name, check in _CHECKS.items():
            check(name, getattr(self, name))

    def with_overrides(self, overrides: Mapping[str, object]) -> Scenario:
        """A copy with some fields replaced; values may be typed or text as in ``BMS_*``.

        Raises :class:`ScenarioError` naming the field for an unknown name or a bad value.
        """
        values = msgspec.structs.asdict(self)
        for name, value in overrides.items():
            if name not in _CHECKS:
                short = isinstance(name, str) and len(name) <= MAX_NAME_CHARS
                raise ScenarioError(
                    name if short else excerpt(name),
                    f"unknown scenario field; known: {', '.join(_CHECKS)}",
                )
            values[name] = _coerce(name, value)
        return Scenario(**values)


def env_name(field: str) -> str:
    """``orders_per_minute`` -> ``BMS_ORDERS_PER_MINUTE``."""
    return "BMS_" + field.upper()


def load_scenario(env: Mapping[str, str] | None = None) -> Scenario:
    """The scenario from ``BMS_*`` settings (``os.environ`` by default); unset ones keep defaults.

    Errors name the ``BMS_*`` setting. Unknown ``BMS_*`` names are not scenario settings (other
    modules own some) and are ignored here.
    """
    source = os.environ if env is None else env
    overrides: dict[str, object] = {}
    for name in _CHECKS:
        text = source.get(env_name(name))
        if text is not None and text.strip() != "":
            overrides[name] = text
    try:
        return Scenario().with_overrides(overrides)
    except ScenarioError as exc:
        setting = env_name(exc.setting) if exc.setting in _CHECKS else exc.setting
        message = str(exc).split(": ", 1)[1]
        raise ScenarioError(setting, message) from None


# --- validation -------------------------------------------------------------------------------


def _number(name: str, value: object, low: float, high: float, *, integer: bool = False) -> None:
    kind = "an integer" if integer else "a number"
    problem = f"must be {kind} in {low:g} .. {high:g}, got {excerpt(value)}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(name, problem)
    if integer and not isinstance(value, int):
        raise ScenarioError(name, problem)
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise ScenarioError(name, problem)
    if not math.isfinite(value) or not low <= value <= high:
        raise ScenarioError(name, problem)


def _ranged(low: float, high: float, *, integer: bool = False) -> Callable[[str, object], None]:
    def check(name: str, value: object) -> None:
        _number(name, value, low, high, integer=integer)

    return check


def _check_seed(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise ScenarioError(name, f"must be an integer in 0 .. 2**63-1, got {excerpt(value)}")


def _weights(name: str, value: object, count: int, what: str) -> None:
    allowed = f"{count} non-negative weights ({what}) up to {MAX_WEIGHT:g}, at least one positive"
    if not isinstance(value, tuple) or len(value) != count:
        raise ScenarioError(name, f"must be {allowed}, got {excerpt(value)}")
    for weight in value:
        if not _weight_ok(weight):
            raise ScenarioError(name, f"must be {allowed}, got {excerpt(weight)}")
    if sum(value) <= 0:
        raise ScenarioError(name, f"must be {allowed}, all are zero")


def _shape(count: int, what: str) -> Callable[[str, object], None]:
    def check(name: str, value: object) -> None:
        _weights(name, value, count, what)

    return check


def _mix(allowed_names: tuple[str, ...] | None) -> Callable[[str, object], None]:
    allowed = "any names" if allowed_names is None else ", ".join(allowed_names)

    def check(name: str, value: object) -> None:
        rule = (
            f"name:weight pairs over {allowed}; weights in 0 .. {MAX_WEIGHT:g}, "
            "at least one positive"
        )
        if not isinstance(value, tuple) or not value:
            raise ScenarioError(name, f"must be {rule}, got {excerpt(value)}")
        if len(value) > MAX_MIX_ENTRIES:
            raise ScenarioError(
                name, f"has {len(value)} entries; a mix has at most {MAX_MIX_ENTRIES}"
            )
        seen: set[str] = set()
        for pair in value:
            if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)):
                raise ScenarioError(name, f"must be {rule}, got {excerpt(pair)}")
            key, weight = pair
            if allowed_names is not None and key not in allowed_names:
                raise ScenarioError(name, f"must be {rule}; {excerpt(key)} is not one of them")
            if allowed_names is None and not _valid_city(key):
                raise ScenarioError(
                    name,
                    f"city names are 1-{MAX_NAME_CHARS} printable characters without ':' or ',' "
                    f"or surrounding spaces, got {excerpt(key)}",
                )
            if key in seen:
                raise ScenarioError(name, f"must be {rule}; {excerpt(key)} appears twice")
            seen.add(key)
            if not _weight_ok(weight):
                raise ScenarioError(
                    name, f"must be {rule}; {excerpt(key)} has weight {excerpt(weight)}"
                )
        if sum(w for _, w in value) <= 0:
            raise ScenarioError(name, f"must be {rule}; all weights are zero")

    return check


def _weight_ok(weight: object) -> bool:
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        return False
    if isinstance(weight, int) and weight.bit_length() > 64:
        return False
    return math.isfinite(weight) and 0 <= weight <= MAX_WEIGHT


def _valid_city(name: str) -> bool:
    """1-60 printable characters (no controls, bidi overrides, lone surrogates), no ``:``/``,``."""
    return (
        1 <= len(name) <= MAX_NAME_CHARS
        and name.isprintable()
        and name == name.strip()
        and ":" not in name
        and "," not in name
    )


_CHECKS: Final[dict[str, Callable[[str, object], None]]] = {
    "seed": _check_seed,
    "slot_seconds": _ranged(1, 3600, integer=True),
    "orders_per_minute": _ranged(0, 100_000),
    "hourly_shape": _shape(24, "IST hours 00..23"),
    "weekday_shape": _shape(7, "Monday..Sunday"),
    "city_mix": _mix(None),
    "event_type_mix": _mix(EVENT_TYPES),
    "seat_category_mix": _mix(SEAT_CATEGORIES),
    "seats_per_order_weights": _shape(10, "1..10 seats"),
    "payment_method_mix": _mix(PAYMENT_METHODS),
    "channel_mix": _mix(CHANNELS),
    "outcome_mix": _mix(OUTCOME_NAMES),
    "payment_delay_median_seconds": _ranged(0.5, 600),
    "payment_delay_spread": _ranged(0, 3),
    "late_payment_rate": _ranged(0, 1),
    "retry_gap_max_seconds": _ranged(1, 120),
    "price_scale": _ranged(0.1, 10),
    "convenience_fee_percent": _ranged(0, 30),
    "duplicate_rate": _ranged(0, 0.5),
    "malformed_rate": _ranged(0, 0.5),
}
FIELDS: Final = tuple(_CHECKS)
"""Every scenario field, in declaration order."""

_INT_FIELDS: Final = frozenset({"seed", "slot_seconds"})
_WEIGHT_FIELDS: Final = frozenset({"hourly_shape", "weekday_shape", "seats_per_order_weights"})


# --- coercion of text (environment, CLI) and friendly Python values ---------------------------


def _coerce(name: str, value: object) -> object:
    """Turn ``BMS_*`` text, lists and dicts into the field's type; range checks come later."""
    if name in _INT_FIELDS:
        if isinstance(value, str):
            try:
                return int(value.strip().replace("_", ""))
            except ValueError:
                raise ScenarioError(name, f"must be an integer, got {excerpt(value)}") from None
        return value
    if name in _WEIGHT_FIELDS:
        if isinstance(value, str):
            return tuple(_parse_float(name, part) for part in value.split(","))
        if isinstance(value, list):
            return tuple(value)
        return value
    if name.endswith("_mix"):
        if isinstance(value, str):
            return _parse_mix(name, value)
        if isinstance(value, Mapping):
            return tuple((str(k), v) for k, v in value.items())
        if isinstance(value, list):
            return tuple(tuple(p) if isinstance(p, list) else p for p in value)
        return value
    if isinstance(value, str):
        return _parse_float(name, value)
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() <= 64:
        return float(value)
    return value


def _parse_float(name: str, text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ScenarioError(name, f"must be a number, got {excerpt(text)}") from None


def _parse_mix(name: str, text: str) -> Mix:
    pairs: list[tuple[str, float]] = []
    for part in text.split(","):
        key, sep, weight = part.rpartition(":")
        if not sep or not key.strip():
            raise ScenarioError(
                name, f"must be name:weight pairs separated by ',', got {excerpt(part)}"
            )
        pairs.append((key.strip(), _parse_float(name, weight)))
    return tuple(pairs)


def format_setting(scenario: Scenario, field: str) -> str:
    """A field as ``BMS_*`` text; ``load_scenario`` reads it back to the same value."""
    value = getattr(scenario, field)
    if field.endswith("_mix"):
        return ",".join(f"{k}:{w:g}" for k, w in value)
    if isinstance(value, tuple):
        return ",".join(f"{w:g}" for w in value)
    return str(value)
