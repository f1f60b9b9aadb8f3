"""Bursts: the POST /api/burst request, and the manifest row that remembers a burst durably.

A burst sends its bookings at once; its payments fall due later, with their real delays, and
``emit_payments`` sends them. Nothing about a burst's orders is stored except one small
manifest row (seed, order count, anchor, scenario overrides, first/last payment due): the
generator regenerates every order from it, and the validator finds it from a burst order id.

Table design (``names.BURSTS_TABLE``): ``PartitionKey`` is the UTC hour of the anchor
(``YYYYMMDDHH``), ``RowKey`` the burst id. Listing bursts with payments due in a window reads
only the hours that can hold them (no payment is more than ``MAX_PAYMENT_DELAY_MS`` after its
booking), and a burst order id carries its anchor second, so a lookup is a point read.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Final

from bms_core import names
from bms_core.orderid import MAX_SEED
from bms_core.storage import StorageConnection

SEED_MAX: Final = MAX_SEED
REQUEST_FIELDS: Final = ("orders", "seed", "scenario")


class BurstRequestError(ValueError):
    """A bad burst request: ``field`` names the JSON field at fault (``body`` for the whole)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message

    def as_json(self) -> dict[str, str]:
        return {"error": self.message, "field": self.field}


@dataclass(frozen=True)
class BurstRequest:
    """A checked request: ``orders`` within the limit, ``seed`` or ``None``, override values."""

    orders: int
    seed: int | None
    overrides: Mapping[str, object] = field(default_factory=dict)


def _whole_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_burst_request(body: bytes, max_orders: int) -> BurstRequest:
    """Parse and check a request body; every problem raises :class:`BurstRequestError`.

    Scenario overrides are checked by name and value against the scenario later
    (:func:`apply_overrides`), where the scenario's own rules live.
    """
    if not body.strip():
        raise BurstRequestError("body", 'request body is empty; send JSON like {"orders": 100}')
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BurstRequestError(
            "body", 'request body is not valid JSON; send JSON like {"orders": 100}'
        ) from None
    if not isinstance(data, dict):
        raise BurstRequestError("body", "request body must be a JSON object")
    unknown = sorted(set(data) - set(REQUEST_FIELDS))
    if unknown:
        raise BurstRequestError(
            unknown[0],
            f"unknown field {unknown[0]!r}; allowed: {', '.join(REQUEST_FIELDS)} "
            "(scenario knobs go inside 'scenario')",
        )
    if "orders" not in data:
        raise BurstRequestError("orders", "orders is required: the number of orders to send")
    orders = data["orders"]
    if not _whole_number(orders):
        raise BurstRequestError("orders", f"orders must be a whole number, got {orders!r}")
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
            raise BurstRequestError("seed", f"seed must be a whole number, got {seed!r}")
        if not 0 <= seed <= SEED_MAX:
            raise BurstRequestError("seed", f"seed must be between 0 and {SEED_MAX}, got {seed}")
    overrides = data.get("scenario", {})
    if not isinstance(overrides, dict):
        raise BurstRequestError("scenario", "scenario must be a JSON object of scenario knobs")
    if "seed" in overrides:
        raise BurstRequestError("scenario.seed", "give the seed as the top-level field 'seed'")
    return BurstRequest(orders=orders, seed=seed, overrides=overrides)


def apply_overrides(scenario: Any, request: BurstRequest) -> Any:
    """The burst's scenario: the app's scenario with the request's seed and overrides.

    A bad override raises :class:`BurstRequestError` with field ``scenario.<knob>``.
    """
    from bms_core.scenario import ScenarioError

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
            "overrides": json.dumps(dict(self.overrides), sort_keys=True),
            "first_payment_due_ms": int64(self.first_payment_due_ms),
            "last_payment_due_ms": int64(self.last_payment_due_ms),
            "payments_scheduled": self.payments_scheduled,
            "bookings_sent": self.bookings_sent,
            "created_ms": int64(self.created_ms),
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
        )


MS_PER_HOUR: Final = 3_600_000


class ManifestStore:
    """Burst manifests in Azure Table storage (``azure-data-tables``, imported lazily).

    ``connection`` is a connection string (Azurite, tests, the local runner) or a
    :class:`~bms_core.storage.StorageConnection`, which also carries the managed identity form.
    """

    def __init__(
        self, connection: str | StorageConnection, table: str = names.BURSTS_TABLE
    ) -> None:
        if isinstance(connection, str):
            connection = StorageConnection(connection_string=connection)
        self._connection = connection
        self._table_name = table
        self._client: Any = None

    def _table(self) -> Any:
        if self._client is None:
            from azure.core.exceptions import ResourceExistsError

            client = self._connection.table_client(self._table_name)
            with contextlib.suppress(ResourceExistsError):
                client.create_table()
            self._client = client
        return self._client

    def put(self, manifest: BurstManifest) -> None:
        """Write (or rewrite, idempotently) a manifest row."""
        self._table().upsert_entity(manifest.to_entity())

    def get(self, burst_id: str, anchor_ms: int) -> BurstManifest | None:
        """The manifest of ``burst_id`` anchored at ``anchor_ms`` (any ms of its hour)."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            entity = self._table().get_entity(partition_for_anchor(anchor_ms), burst_id)
        except ResourceNotFoundError:
            return None
        return BurstManifest.from_entity(entity)

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
