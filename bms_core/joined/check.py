"""Reading joined rows off the hub and comparing one row with the truth, column by column.

Pure functions, no I/O: :mod:`bms_core.joined.validator` drives them per batch.

* :func:`parse_events` turns Event Hub bodies into rows. ASA packs several rows into one event
  (line-separated JSON); one row per event, or a JSON array, also parse. A body or line that
  is not a JSON object becomes a :class:`Malformed` record, never an exception.
* :func:`sampled` picks rows deterministically by ``order_id`` (a stable hash, the same on every
  process and run, unlike Python's ``hash``).
* :func:`compare_row` compares an actual row with the expected one (from
  :func:`bms_core.joined.projection.seat_rows` on the regenerated events), normalising times to
  epoch ms and money to paise, and names the rule each difference breaks.

Every function here takes whatever the hub delivered: any JSON (nested up to the parser's
recursion limit, huge numbers, lone surrogates, megabyte strings) gives an answer in time that
grows at most with the text's length, and a value is quoted in a finding by a short excerpt
(:func:`show`) only.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Final

from bms_core.joined.columns import SEAT_COLUMNS, Column
from bms_core.money import parse_paise
from bms_core.names import JOIN_WINDOW_SECONDS
from bms_core.untrusted import excerpt, parse_json_int

# --- rules ------------------------------------------------------------------------------------
COPIED: Final = "copied"
DERIVED: Final = "derived"
WINDOW: Final = "window"
MONEY: Final = "money"
DUPLICATE: Final = "duplicate"
MALFORMED: Final = "malformed"
SCHEMA: Final = "schema"
UNKNOWN_ORDER: Final = "unknown_order"
UNCHECKED: Final = "unchecked"
RULES: Final = (
    COPIED,
    DERIVED,
    WINDOW,
    MONEY,
    DUPLICATE,
    MALFORMED,
    SCHEMA,
    UNKNOWN_ORDER,
    UNCHECKED,
)

DERIVED_COLUMNS: Final = frozenset(
    {
        "event_category",
        "payment_type",
        "payment_delay_ms",
        "booking_hour_utc",
        "booking_weekday_utc",
        "booking_hour_ist",
        "booking_weekday_ist",
        "seat_index",
        "seat_count",
    }
)
MONEY_COLUMNS: Final = frozenset({"seat_price", "seat_amount"})
NOT_COMPARED: Final = frozenset({"joined_at"})
"""``joined_at`` is when the job joined the pair; nothing can regenerate it."""
SCHEMA_VERSION: Final = 1
COLUMNS: Final[dict[str, Column]] = {c.name: c for c in SEAT_COLUMNS}
EXCERPT: Final = 200
"""Characters of a bad piece of a batch a finding quotes."""
MAX_KEY_TEXT: Final = 200
"""A ``payment_event_id`` or ``seat_index`` longer than this does not name a row."""
MAX_TIME_TEXT: Final = 64
"""The longest text read as a time (ASA writes 28 characters)."""


def rule_for(column: str) -> str:
    if column in MONEY_COLUMNS:
        return MONEY
    if column in DERIVED_COLUMNS:
        return DERIVED
    return COPIED


@dataclass(frozen=True)
class Finding:
    """One broken rule: where (``row_key``), which rule and column, expected vs actual."""

    row_key: str
    rule: str
    column: str
    expected: str
    actual: str


@dataclass(frozen=True)
class Malformed:
    """A body or line that is not a JSON object; ``where`` is ``event <n> line <m>``."""

    where: str
    text: str
    reason: str


@dataclass(frozen=True)
class Row:
    """A parsed row and where it came from in the batch."""

    where: str
    data: dict[str, Any]


def parse_events(bodies: Iterable[bytes]) -> tuple[list[Row], list[Malformed]]:
    """Rows and malformed pieces of a batch of Event Hub bodies, in batch order."""
    rows: list[Row] = []
    bad: list[Malformed] = []
    for n, body in enumerate(bodies):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad.append(Malformed(f"event {n}", excerpt(body, EXCERPT), f"not UTF-8: {exc}"))
            continue
        whole = _loads(text)
        if isinstance(whole, list):
            for m, item in enumerate(whole):
                _add(rows, bad, f"event {n} item {m}", item, show(item))
            continue
        if isinstance(whole, dict):
            rows.append(Row(f"event {n}", whole))
            continue
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines:
            bad.append(Malformed(f"event {n}", "", "empty body"))
        for m, line in enumerate(lines):
            _add(rows, bad, f"event {n} line {m}", _loads(line), excerpt(line, EXCERPT))
    return rows, bad


_NOT_JSON: Final = object()


def _loads(text: str) -> Any:
    """JSON ``text``, or ``_NOT_JSON``; nesting past the recursion limit is not JSON we read."""
    try:
        return json.loads(text, parse_int=parse_json_int)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _add(rows: list[Row], bad: list[Malformed], where: str, value: Any, text: str) -> None:
    if isinstance(value, dict):
        rows.append(Row(where, value))
    elif value is _NOT_JSON:
        bad.append(Malformed(where, text, "not valid JSON"))
    else:
        bad.append(Malformed(where, text, f"a JSON {type(value).__name__}, not an object"))


def sampled(order_id: str, rate: float) -> bool:
    """Deterministic sample by ``order_id``: the same answer on every run and every process."""
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    digest = hashlib.blake2b(order_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") < rate * 2**64


def row_key(data: Mapping[str, Any], where: str) -> str:
    """``<payment_event_id>/<seat_index>`` when present, else the row's place in the batch."""
    payment = data.get("payment_event_id")
    seat = data.get("seat_index")
    if not isinstance(payment, str) or not payment or len(payment) > MAX_KEY_TEXT:
        return where
    if isinstance(seat, str) and len(seat) <= MAX_KEY_TEXT:
        return f"{payment}/{seat}"
    if isinstance(seat, int | float) and not isinstance(seat, bool):
        return f"{payment}/{excerpt(seat)}"
    return where


# --- normalisation ------------------------------------------------------------------------------
_FRACTION: Final = re.compile(r"(\.\d{1,6})\d*")


def to_ms(value: Any) -> int | None:
    """Epoch ms of an ISO-8601 time in any precision (ASA writes 7 digits); None if not one."""
    if isinstance(value, bool) or not isinstance(value, str) or len(value) > MAX_TIME_TEXT:
        return None
    text = _FRACTION.sub(r"\1", value.strip().replace("Z", "+00:00"))
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        delta = moment - datetime(1970, 1, 1, tzinfo=timezone.utc)
    except (ValueError, OverflowError):
        return None
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def to_paise(value: Any) -> int | None:
    """Paise of a money value (number or plain numeric text); None unless exact to the paisa
    and within ``DECIMAL(12,2)`` (:func:`bms_core.money.parse_paise`)."""
    return parse_paise(value)


def normalise(column: str, value: Any) -> Any:
    """A comparable form of ``value`` for ``column`` (times in ms, money in paise)."""
    if value is None:
        return None
    if isinstance(value, dict | list):
        return ("unparseable", show(value))
    sql_type = COLUMNS[column].sql_type if column in COLUMNS else ""
    if sql_type.startswith("DATETIME"):
        ms = to_ms(value)
        return ("unparseable", show(value)) if ms is None else ms
    if sql_type.startswith("DECIMAL"):
        paise = to_paise(value)
        return ("unparseable", show(value)) if paise is None else paise
    if sql_type == "INT":
        if isinstance(value, bool):
            return ("unparseable", value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value
    return value


def show(value: Any) -> str:
    """``value`` as JSON for a finding, at most about :data:`EXCERPT` characters.

    Scalars and small containers are shown whole; a long string by its start; anything else
    (deep, large or unencodable) by a description from :func:`bms_core.untrusted.excerpt`.
    """
    if isinstance(value, str):
        if len(value) <= EXCERPT:
            return json.dumps(value)
        return json.dumps(value[:EXCERPT]) + f"... ({len(value)} characters)"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return excerpt(value)
    if isinstance(value, dict | list) and len(value) > 16:
        return excerpt(value)
    try:
        text = json.dumps(value, default=repr)
    except (ValueError, RecursionError, TypeError):
        return excerpt(value)
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "..."


# --- per-row checks -------------------------------------------------------------------------------
def schema_findings(key: str, data: Mapping[str, Any]) -> list[Finding]:
    """Missing columns, nulls where the contract forbids them, an unknown schema_version."""
    found: list[Finding] = []
    version = data.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        found.append(Finding(key, SCHEMA, "schema_version", show(SCHEMA_VERSION), show(version)))
    for column in SEAT_COLUMNS:
        if column.name not in data:
            found.append(Finding(key, SCHEMA, column.name, "present", "missing"))
        elif data[column.name] is None and not column.nullable:
            found.append(Finding(key, SCHEMA, column.name, "a value", "null"))
    return found


def window_finding(key: str, data: Mapping[str, Any]) -> Finding | None:
    """The row itself must satisfy 0 <= payment_time - booking_time <= the join window."""
    booking = to_ms(data.get("booking_time"))
    payment = to_ms(data.get("payment_time"))
    if booking is None or payment is None:
        return None
    delay = payment - booking
    if 0 <= delay <= JOIN_WINDOW_SECONDS * 1000:
        return None
    return Finding(
        key, WINDOW, "payment_time", f"0..{JOIN_WINDOW_SECONDS * 1000} ms after booking", str(delay)
    )


def compare_row(key: str, actual: Mapping[str, Any], expected: Mapping[str, Any]) -> list[Finding]:
    """Every column of ``actual`` against ``expected``; one finding per differing column."""
    found: list[Finding] = []
    for column in SEAT_COLUMNS:
        name = column.name
        if name in NOT_COMPARED or name not in actual:
            continue
        want_raw, have_raw = expected.get(name), actual[name]
        if want_raw == have_raw and type(want_raw) is type(have_raw):
            continue
        want = normalise(name, want_raw)
        have = normalise(name, have_raw)
        if want != have:
            found.append(
                Finding(key, rule_for(name), name, show(expected.get(name)), show(actual[name]))
            )
    return found
