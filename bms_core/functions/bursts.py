"""Bursts: the POST /api/burst request, and the manifest row that remembers a burst durably.

A burst sends its bookings at once; its payments fall due later, with their real delays, and
``emit_payments`` sends them. Nothing about a burst's orders is stored except one small
manifest row (seed, order count, anchor, scenario overrides, first/last payment due): the
generator regenerates every order from it, and the validator finds it from a burst order id.

A burst fanned out through the burst queue (:mod:`bms_core.flash`) has ``chunk_orders`` > 0
(and its ``over_seconds``): its chunks schedule its payments, so the payments timer skips it,
while reconcile and the validator read it like any other.

Table design (``names.BURSTS_TABLE``): ``PartitionKey`` is the UTC hour of the anchor
(``YYYYMMDDHH``), ``RowKey`` the burst id. Listing bursts with payments due in a window reads
only the hours that can hold them (no payment is more than ``MAX_PAYMENT_DELAY_MS`` after its
booking), and a burst order id carries its anchor second, so a lookup is a point read.

A request is bounded before any work starts: at most :data:`MAX_BODY_BYTES` (64 KiB, else 413),
JSON nested at most :data:`MAX_DEPTH` deep, integers of at most
:data:`~bms_core.untrusted.MAX_INT_DIGITS` digits, scenario knobs by name with the scenario's
own limits (mixes of at most 200 entries, printable city names of at most 60 characters,
weights in 0 .. 1e9). Every violation is a 4xx naming the field and the limit; a bad value is
quoted by a short excerpt only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Final

from bms_core import names, untrusted
from bms_core.functions.storage import CreatedTable, StorageConnection
from bms_core.traffic.orderid import MAX_SEED

SEED_MAX: Final = MAX_SEED
REQUEST_FIELDS: Final = ("orders", "seed", "over_seconds", "scenario")
MAX_BODY_BYTES: Final = 64 * 1024
"""The largest request body; a larger one is refused with 413 before it is parsed."""
MAX_DEPTH: Final = 8
"""The deepest JSON nesting a request may have (a scenario mix as pairs needs 4)."""
MAX_OVER_SECONDS: Final = 3600
"""A burst spreads its orders over at most an hour."""


class BurstRequestError(ValueError):
    """A bad burst request: ``field`` names the JSON field at fault (``body`` for the whole);
    ``status`` is the HTTP status to answer with (400, or 413 for a body over the limit)."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status

    def as_json(self) -> dict[str, str]:
        return {"error": self.message, "field": self.field}


@dataclass(frozen=True)
class BurstRequest:
    """A checked request: ``orders`` within the limit, ``seed`` or ``None``, override values."""

    orders: int
    seed: int | None
    overrides: Mapping[str, object] = field(default_factory=dict)
    over_seconds: int = 0


def _whole_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_burst_request(body: bytes, max_orders: int) -> BurstRequest:
    """Parse and check a request body; every problem raises :class:`BurstRequestError`.

    Size, nesting depth and scenario knob names are checked here, before parsing builds
    anything big; knob values are checked against the scenario later (:func:`apply_overrides`),
    where the scenario's own rules live.
    """
    if len(body) > MAX_BODY_BYTES:
        raise BurstRequestError(
            "body",
            f"request body is {len(body)} bytes; the limit is {MAX_BODY_BYTES} bytes",
            status=413,
        )
    if not body.strip():
        raise BurstRequestError("body", 'request body is empty; send JSON like {"orders": 100}')
    not_json = BurstRequestError(
        "body", 'request body is not valid JSON; send JSON like {"orders": 100}'
    )
    try:
        text = body.decode(json.detect_encoding(body))
    except (UnicodeDecodeError, LookupError):
        raise not_json from None
    if untrusted.nested_deeper_than(text, MAX_DEPTH):
        raise BurstRequestError("body", f"request body is nested more than {MAX_DEPTH} levels deep")
    try:
        data = json.loads(text, parse_int=untrusted.parse_json_int)
    except (ValueError, RecursionError):
        raise not_json from None
    if not isinstance(data, dict):
        raise BurstRequestError("body", "request body must be a JSON object")
    unknown = sorted(set(data) - set(REQUEST_FIELDS))
    if unknown:
        raise BurstRequestError(
            _field_name(unknown[0]),
            f"unknown field {untrusted.excerpt(unknown[0])}; allowed: {', '.join(REQUEST_FIELDS)} "
            "(scenario knobs go inside 'scenario')",
        )
    if "orders" not in data:
        raise BurstRequestError("orders", "orders is required: the number of orders to send")
    orders = data["orders"]
    if not _whole_number(orders):
        raise BurstRequestError(
            "orders", f"orders must be a whole number, got {untrusted.excerpt(orders)}"
        )
    if orders < 1:
        raise BurstRequestError("orders", f"orders must be at least 1, got {orders}")
    if orders > max_orders:
        raise BurstRequestError(
            "orders",
            f"orders must be at most {max_orders} (the limit BMS_BURST_MAX_ORDERS), got {orders}",
        )
    seed = data.get("seed")
    if seed is not None:
        if not _whole_number(seed):
            raise BurstRequestError(
                "seed", f"seed must be a whole number, got {untrusted.excerpt(seed)}"
            )
        if not 0 <= seed <= SEED_MAX:
            raise BurstRequestError("seed", f"seed must be between 0 and {SEED_MAX}, got {seed}")
    over_seconds = data.get("over_seconds", 0)
    if not _whole_number(over_seconds):
        raise BurstRequestError(
            "over_seconds",
            f"over_seconds must be a whole number, got {untrusted.excerpt(over_seconds)}",
        )
    if not 0 <= over_seconds <= MAX_OVER_SECONDS:
        raise BurstRequestError(
            "over_seconds",
            f"over_seconds must be between 0 and {MAX_OVER_SECONDS}, got {over_seconds}",
        )
    overrides = data.get("scenario", {})
    if not isinstance(overrides, dict):
        raise BurstRequestError("scenario", "scenario must be a JSON object of scenario knobs")
    if "seed" in overrides:
        raise BurstRequestError("scenario.seed", "give the seed as the top-level field 'seed'")
    from bms_core.traffic.scenario import FIELDS

    for knob in overrides:
        if knob not in FIELDS:
            raise BurstRequestError(
                f"scenario.{_field_name(knob)}",
                f"unknown scenario field {untrusted.excerpt(knob)}; known: {', '.join(FIELDS)}",
            )
    return BurstRequest(orders=orders, seed=seed, overrides=overrides, over_seconds=over_seconds)


def _field_name(name: str) -> str:
    """A client's field name as it can appear in an answer's ``field``: short and printable."""
    if len(name) <= 40 and name.isascii() and name.isprintable():
        return name
    return untrusted.excerpt(name, 20)


def apply_overrides(scenario: Any, request: BurstRequest) -> Any:
    """The burst's scenario: the app's scenario with the request's seed and overrides.

    A bad override raises :class:`BurstRequestError` with field ``scenario.<knob>``.
    """
    from bms_core.traffic.scenario import ScenarioError

    changes: dict[str, object] = dict(request.overrides)
    if request.seed is not None:
        changes["seed"] = request.seed
    if not changes:
        return scenario
    try:
        return scenario.with_overrides(changes)
    except ScenarioError as exc:
        setting = getattr(exc, "setting", "") or ""
        knob = setting if setting in changes else _knob_of(setting, changes)
        where = "seed" if knob == "seed" else f"scenario.{knob}"
        raise BurstRequestError(where, str(exc)) from None


def _knob_of(setting: str, changes: Mapping[str, object]) -> str:
    lowered = setting.lower()
    for knob in changes:
        if lowered.endswith(knob.lower()):
            return knob
    return setting or "scenario"


def partition_for_anchor(anchor_ms: int) -> str:
    """The manifest's PartitionKey: the anchor's UTC hour, ``YYYYMMDDHH``."""
    return datetime.fromtimestamp(anchor_ms // 1000, tz=timezone.utc).strftime("%Y%m%d%H")


@dataclass(frozen=True)
class BurstManifest:
    """Everything needed to regenerate a burst's orders and schedule its payments."""

    burst_id: str
    seed: int
    orders: int
    anchor_ms: int
    overrides: Mapping[str, object]
    first_payment_due_ms: int | None
    last_payment_due_ms: int | None
    payments_scheduled: int
    bookings_sent: int
    created_ms: int
    chunk_orders: int = 0
    """Orders per chunk of a fanned-out burst; 0 for a burst sent inline."""
    over_seconds: int = 0

    @property
    def fanned_out(self) -> bool:
        return self.chunk_orders > 0

    def to_entity(self) -> dict[str, Any]:
        from azure.data.tables import EdmType, EntityProperty

        def int64(value: int | None) -> Any:
            return None if value is None else EntityProperty(value, EdmType.INT64)

        entity: dict[str, Any] = {
            "PartitionKey": partition_for_anchor(self.anchor_ms),
            "RowKey": self.burst_id,
            "seed": int64(self.seed),
            "orders": self.orders,
            "anchor_ms": int64(self.anchor_ms),
            # Not \u-escaped: Table storage holds 32K UTF-16 units a property, and a mix at its
            # limits (200 names of 60 non-ASCII characters) fits only as plain text.
            "overrides": json.dumps(dict(self.overrides), sort_keys=True, ensure_ascii=False),
            "first_payment_due_ms": int64(self.first_payment_due_ms),
            "last_payment_due_ms": int64(self.last_payment_due_ms),
            "payments_scheduled": self.payments_scheduled,
            "bookings_sent": self.bookings_sent,
            "created_ms": int64(self.created_ms),
            "chunk_orders": self.chunk_orders or None,
            "over_seconds": self.over_seconds or None,
        }
        return {k: v for k, v in entity.items() if v is not None}

    @classmethod
    def from_entity(cls, entity: Mapping[str, Any]) -> BurstManifest:
        def plain(name: str) -> Any:
            value = entity.get(name)
            return getattr(value, "value", value)

        first = plain("first_payment_due_ms")
        last = plain("last_payment_due_ms")
        return cls(
            burst_id=str(entity["RowKey"]),
            seed=int(plain("seed")),
            orders=int(plain("orders")),
            anchor_ms=int(plain("anchor_ms")),
            overrides=json.loads(plain("overrides") or "{}"),
            first_payment_due_ms=None if first is None else int(first),
            last_payment_due_ms=None if last is None else int(last),
            payments_scheduled=int(plain("payments_scheduled") or 0),
            bookings_sent=int(plain("bookings_sent") or 0),
            created_ms=int(plain("created_ms") or 0),
            chunk_orders=int(plain("chunk_orders") or 0),
            over_seconds=int(plain("over_seconds") or 0),
        )


MS_PER_HOUR: Final = 3_600_000


class ManifestStore:
    """Burst manifests in Azure Table storage (``azure-data-tables``, imported lazily).

    ``connection`` is a connection string (Azurite, tests, the local runner) or a
    :class:`~bms_core.functions.storage.StorageConnection`, which also carries the managed
    identity form.
    """

    def __init__(
        self, connection: str | StorageConnection, table: str = names.BURSTS_TABLE
    ) -> None:
        self._table = CreatedTable(connection, table).client

    def put(self, manifest: BurstManifest) -> None:
        """Write (or rewrite, idempotently) a manifest row."""
        self._table().upsert_entity(manifest.to_entity())

    def get(self, burst_id: str, anchor_ms: int) -> BurstManifest | None:
        """The manifest of ``burst_id`` anchored at ``anchor_ms`` (any ms of its hour) or in the
        hour before: an order of a burst spread over ``over_seconds`` carries its chunk's
        anchor, up to :data:`MAX_OVER_SECONDS` after the burst's."""
        from azure.core.exceptions import ResourceNotFoundError

        for hour_ms in (anchor_ms, anchor_ms - MAX_OVER_SECONDS * 1000):
            try:
                entity = self._table().get_entity(partition_for_anchor(hour_ms), burst_id)
            except ResourceNotFoundError:
                continue
            return BurstManifest.from_entity(entity)
        return None

    def active(self, start_ms: int, end_ms: int, max_delay_ms: int) -> list[BurstManifest]:
        """Bursts with a payment due in ``[start_ms, end_ms)``, oldest anchor first."""
        found: list[BurstManifest] = []
        hour = (start_ms - max_delay_ms) // MS_PER_HOUR
        last_hour = end_ms // MS_PER_HOUR
        table = self._table()
        while hour <= last_hour:
            query = (
                "PartitionKey eq @pk and last_payment_due_ms ge @start "
                "and first_payment_due_ms lt @end"
            )
            params = {
                "pk": partition_for_anchor(hour * MS_PER_HOUR),
                "start": start_ms,
                "end": end_ms,
            }
            for entity in table.query_entities(query, parameters=params):
                found.append(BurstManifest.from_entity(entity))
            hour += 1
        found.sort(key=lambda m: (m.anchor_ms, m.burst_id))
        return found


def scenario_of(scenario: Any, manifest: BurstManifest) -> Any:
    """The scenario a burst was generated with: the app's, with the manifest's seed and knobs."""
    changes: dict[str, object] = dict(manifest.overrides)
    changes["seed"] = manifest.seed
    return scenario.with_overrides(changes)
