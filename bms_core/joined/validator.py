"""validate_joined: check a batch of joined rows against regenerated truth; never raise on data.

For each batch the validator parses every event (line-separated rows, one row, or an array),
flags duplicates, checks every row's shape (columns, nulls) and join window, samples rows by
``order_id`` at ``BMS_VALIDATION_SAMPLE_RATE``, regenerates
each sampled order's booking and payment attempt from its ``order_id`` (a burst's scenario
comes from its manifest row, looked up once per burst and cached) and compares the row with
:func:`bms_core.joined.projection.seat_rows` column by column. When every seat row of an
(order, payment) pair is in the batch (``seat_count`` says how many), their ``seat_amount``
must add up to the order amount exactly.

Bad data becomes findings (rule, row key, expected, actual), never an exception: a row that
cannot be checked at all (whatever the reason) is one ``unchecked`` finding quoting a short
excerpt, and the batch's other rows are still checked and summarised. Every value is read with
bounded cost (money by :func:`bms_core.money.parse_paise`, which refuses exponents and more
digits than ``DECIMAL(12,2)``; an ``order_id`` longer than :data:`MAX_ORDER_ID` is not decoded),
so one row costs at most one order's regeneration. Storage errors while reading a manifest do
raise, so the host's retry policy runs the batch again.

For every row of a sampled order (each copy of a duplicate too) it also measures the pipeline's
latency, the carrying event's enqueued time minus the row's ``payment_time``
(:mod:`bms_core.joined.latency`), and reports its p50/p95/p99/max per batch.

Output: findings and one summary per batch as Table storage entities (JSON arrays for the
table output bindings), and one JSON log line with the summary.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Final

from bms_core.functions import clock
from bms_core.joined import check as jc
from bms_core.joined import latency

log = logging.getLogger("bms.validator")
MAX_TEXT: Final = 1000
MANIFEST_CACHE_BYTES: Final = 8 * 1024 * 1024
"""The most bytes of burst manifests a process keeps (their overrides counted at 4 bytes per
character of their JSON, plus 1 KiB each); least recently used first out."""
MAX_ORDER_ID: Final = 80
"""No order id is longer (a burst id, a seed and two numbers in base 36, and three dashes)."""

ManifestLookup = Callable[[str, int], Any]
"""``(burst_id, anchor_ms) -> BurstManifest | None``."""


@dataclass
class BatchResult:
    """Everything one batch produced."""

    batch_id: str
    findings: list[jc.Finding] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[int] = field(default_factory=list)
    """Latency of each measured row (enqueued time minus payment_time)."""

    def summary(self, sample_rate: float, now_ms: int) -> dict[str, Any]:
        by_rule = Counter(f.rule for f in self.findings)
        return {
            "batch_id": self.batch_id,
            "validated_at": _iso(now_ms),
            "sample_rate": sample_rate,
            "findings": len(self.findings),
            **{k: self.counts.get(k, 0) for k in _COUNTS},
            **{f"findings_{rule}": by_rule.get(rule, 0) for rule in jc.RULES},
            **latency.summary_fields(self.latencies_ms, self.counts.get(latency.UNKNOWN, 0)),
        }


_COUNTS: Final = (
    "events",
    "rows",
    "malformed",
    "duplicates",
    "sampled",
    "checked",
    "money_checked",
    "money_incomplete",
)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")


class Truth:
    """Regenerates expected rows; caches orders per batch and manifests across batches."""

    def __init__(self, scenario: Any, manifests: ManifestLookup) -> None:
        self._scenario = scenario
        self._manifests = manifests
        self._orders: dict[str, tuple[Any, str | None]] = {}
        self._rows: dict[str, dict[Any, dict[str, Any]]] = {}

    def order(self, order_id: str) -> tuple[Any, str | None]:
        """``(Order, None)`` or ``(None, why it is unknown)``."""
        if order_id in self._orders:
            return self._orders[order_id]
        result = self._regenerate(order_id)
        self._orders[order_id] = result
        return result

    def expected_rows(
        self, order: Any, payment: Any, contract: Any, projection: Any
    ) -> dict[Any, dict[str, Any]]:
        """The pair's seat rows by ``seat_index``, computed once per batch.

        ``joined_at`` is left at 0: it is never compared (nothing can regenerate it).
        """
        key = payment.payment_id
        rows = self._rows.get(key)
        if rows is None:
            booking_doc = json.loads(contract.encode(order.booking))
            payment_doc = json.loads(contract.encode(payment))
            rows = {r["seat_index"]: r for r in projection.seat_rows(booking_doc, payment_doc, 0)}
            self._rows[key] = rows
        return rows

    def _regenerate(self, order_id: str) -> tuple[Any, str | None]:
        from bms_core.functions import bursts
        from bms_core.traffic import generator
        from bms_core.traffic.orderid import TIMER_NAMESPACE, decode_order_id

        try:
            key = decode_order_id(order_id)
        except ValueError as exc:
            return None, str(exc)
        if key.namespace == TIMER_NAMESPACE:
            scenario = self._scenario
            if key.seed != scenario.seed:
                scenario = scenario.with_overrides({"seed": key.seed})
        else:
            manifest = self._manifests(key.namespace, key.slot * 1000)
            if manifest is None:
                return None, f"no manifest for burst {key.namespace}"
            if key.index >= manifest.orders:
                return None, f"burst {key.namespace} has {manifest.orders} orders"
            scenario = bursts.scenario_of(self._scenario, manifest)
        try:
            return generator.regenerate(scenario, order_id), None
        except ValueError as exc:
            return None, str(exc)


def cached_manifests(
    store_factory: Callable[[], Any], budget: int = MANIFEST_CACHE_BYTES
) -> ManifestLookup:
    """A manifest lookup that reads each burst once per process while it stays in the cache.

    Bursts that have no manifest are remembered too (a manifest is written before its burst's
    bookings are sent, so a row's burst is never found later), so rows naming made-up bursts
    cost one storage read per burst id, not one per row.
    """
    cache: OrderedDict[tuple[str, int], tuple[Any, int]] = OrderedDict()
    lock = threading.Lock()
    held = 0

    def lookup(burst_id: str, anchor_ms: int) -> Any:
        nonlocal held
        key = (burst_id, anchor_ms // 3_600_000)
        with lock:
            entry = cache.get(key)
            if entry is not None:
                cache.move_to_end(key)
                return entry[0]
        manifest = store_factory().get(burst_id, anchor_ms)
        size = 1024 + len(burst_id)
        if manifest is not None:
            size += 4 * len(json.dumps(dict(manifest.overrides), default=str))
        with lock:
            if key not in cache:
                cache[key] = (manifest, size)
                held += size
                while held > budget and cache:
                    _, (_, old_size) = cache.popitem(last=False)
                    held -= old_size
        return manifest

    return lookup


def validate_batch(
    bodies: Iterable[bytes],
    truth: Truth,
    sample_rate: float,
    batch_id: str,
    enqueued_ms: Sequence[int | None] = (),
) -> BatchResult:
    """Check one batch; returns findings and counts, never raises on data.

    ``enqueued_ms`` holds each body's enqueued time (``None`` or missing: unknown).
    """
    from bms_core import contract
    from bms_core.joined import projection

    body_list = [body if isinstance(body, bytes) else bytes(body or b"") for body in bodies]
    result = BatchResult(batch_id)
    result.counts["events"] = len(body_list)
    rows, malformed = jc.parse_events(body_list)
    result.counts["rows"] = len(rows)
    result.counts["malformed"] = len(malformed)
    for bad in malformed:
        result.findings.append(jc.Finding(bad.where, jc.MALFORMED, "", "a JSON object", bad.text))

    seen: Counter[str] = Counter()
    groups: dict[tuple[str, str], dict[Any, Any]] = {}
    for row in rows:
        key = row.where
        try:
            _measure_latency(row, enqueued_ms, sample_rate, result)
            key = jc.row_key(row.data, row.where)
            _check_unsampled(key, row, seen, result)
            if seen[key] > 1:
                continue
            order_id = row.data.get("order_id")
            if not isinstance(order_id, str) or not order_id:
                continue
            if not jc.sampled(order_id, sample_rate):
                continue
            result.counts["sampled"] += 1
            _check_row(key, row.data, truth, result, groups, contract, projection)
        except Exception as exc:
            if type(exc).__module__.startswith("azure."):
                raise
            result.findings.append(_unchecked(key, exc))
    _check_money(groups, truth, result)
    return result


def _unchecked(key: str, exc: BaseException) -> jc.Finding:
    """A row (or group) no check could finish: the error's type and a short excerpt of it."""
    try:
        text = str(exc)
    except Exception:  # str() of an exception can itself fail (e.g. a huge int in its args)
        text = ""
    return jc.Finding(
        key, jc.UNCHECKED, "", "a checkable row", f"{type(exc).__name__}: {text[: jc.EXCERPT]}"
    )


def _check_unsampled(key: str, row: jc.Row, seen: Counter[str], result: BatchResult) -> None:
    """Duplicates, shape, join window, and an order id at all: checks every row gets."""
    seen[key] += 1
    if seen[key] > 1:
        result.counts["duplicates"] += 1
        result.findings.append(
            jc.Finding(key, jc.DUPLICATE, "", "1 copy", f"{seen[key]} copies ({row.where})")
        )
        return
    result.findings.extend(jc.schema_findings(key, row.data))
    window = jc.window_finding(key, row.data)
    if window is not None:
        result.findings.append(window)
    order_id = row.data.get("order_id")
    if "order_id" in row.data and (not isinstance(order_id, str) or not order_id):
        result.findings.append(
            jc.Finding(key, jc.UNKNOWN_ORDER, "order_id", "an order id", jc.show(order_id))
        )


def _measure_latency(
    row: jc.Row, enqueued_ms: Sequence[int | None], sample_rate: float, result: BatchResult
) -> None:
    """Record the latency of a sampled order's row, or count it as unknown."""
    order_id = row.data.get("order_id")
    if not isinstance(order_id, str) or not order_id or not jc.sampled(order_id, sample_rate):
        return
    event = int(row.where.split()[1])  # "event <n> ..."
    moment = enqueued_ms[event] if event < len(enqueued_ms) else None
    value = latency.row_latency_ms(moment, row.data.get("payment_time"))
    if value is None:
        result.counts[latency.UNKNOWN] += 1
    else:
        result.latencies_ms.append(value)


def _check_row(
    key: str,
    data: Mapping[str, Any],
    truth: Truth,
    result: BatchResult,
    groups: dict[tuple[str, str], dict[Any, Any]],
    contract: Any,
    projection: Any,
) -> None:
    found = result.findings
    order_id = str(data["order_id"])
    if len(order_id) > MAX_ORDER_ID:
        found.append(
            jc.Finding(
                key,
                jc.UNKNOWN_ORDER,
                "order_id",
                f"an order id of at most {MAX_ORDER_ID} characters",
                jc.show(order_id),
            )
        )
        return
    order, why = truth.order(order_id)
    if order is None:
        found.append(jc.Finding(key, jc.UNKNOWN_ORDER, "order_id", "a known order", why or ""))
        return
    payment_id = data.get("payment_id")
    payment = next((p for p in order.payments if p.payment_id == payment_id), None)
    if payment is None:
        known = [p.payment_id for p in order.payments]
        found.append(
            jc.Finding(key, jc.UNKNOWN_ORDER, "payment_id", json.dumps(known), jc.show(payment_id))
        )
        return
    by_index = truth.expected_rows(order, payment, contract, projection)
    seat_index = data.get("seat_index")
    expected = None if isinstance(seat_index, dict | list) else by_index.get(seat_index)
    if expected is None:
        found.append(
            jc.Finding(
                key, jc.DERIVED, "seat_index", json.dumps(sorted(by_index)), jc.show(seat_index)
            )
        )
        return
    found.extend(jc.compare_row(key, data, expected))
    result.counts["checked"] += 1
    group = groups.setdefault((order_id, str(payment_id)), {})
    group[seat_index] = data.get("seat_amount")


def _check_money(
    groups: Mapping[tuple[str, str], Mapping[Any, Any]], truth: Truth, result: BatchResult
) -> None:
    """Seat shares of a complete (order, payment) group add up to the order amount exactly."""
    for (order_id, payment_id), seats in groups.items():
        try:
            _check_group(order_id, payment_id, seats, truth, result)
        except Exception as exc:
            if type(exc).__module__.startswith("azure."):
                raise
            result.findings.append(_unchecked(f"{payment_id}/*", exc))


def _check_group(
    order_id: str, payment_id: str, seats: Mapping[Any, Any], truth: Truth, result: BatchResult
) -> None:
    from bms_core.money import to_paise

    order, _ = truth.order(order_id)
    if order is None:
        return
    if len(seats) < len(order.booking.event_details.seats):
        result.counts["money_incomplete"] += 1
        return
    result.counts["money_checked"] += 1
    expected = to_paise(order.booking.total_amount)
    shares = [jc.to_paise(v) for v in seats.values()]
    actual = None if None in shares else sum(s for s in shares if s is not None)
    if actual != expected:
        result.findings.append(
            jc.Finding(
                f"{payment_id}/*",
                jc.MONEY,
                "seat_amount",
                f"sum {expected} paise",
                f"sum {actual} paise" if actual is not None else "unparseable share",
            )
        )


# --- the handler ------------------------------------------------------------------------------
def new_batch_id(now_ms: int) -> str:
    """Unique per invocation (a re-delivered batch gets new rows, never a key conflict)."""
    return f"{now_ms:013d}-{secrets.token_hex(4)}"


def _partition(now_ms: int) -> str:
    return datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc).strftime("%Y%m%d%H")


def finding_entities(result: BatchResult, now_ms: int) -> list[dict[str, Any]]:
    return [
        {
            "PartitionKey": _partition(now_ms),
            "RowKey": f"{result.batch_id}-{n:05d}",
            "batch_id": result.batch_id,
            "row_key": f.row_key[:MAX_TEXT],
            "rule": f.rule,
            "column": f.column,
            "expected": f.expected[:MAX_TEXT],
            "actual": f.actual[:MAX_TEXT],
        }
        for n, f in enumerate(result.findings)
    ]


def run_validate_joined(
    events: Iterable[Any],
    findings_out: Any,
    summary_out: Any,
    settings: Any,
    *,
    manifests: ManifestLookup | None = None,
    now_ms: int | None = None,
) -> BatchResult:
    """The function body: validate, set both table outputs, log one summary line."""
    from bms_core.functions import runtime

    now = clock.now_ms() if now_ms is None else now_ms
    lookup = manifests or _process_manifests(lambda: runtime.current().manifests)
    truth = Truth(settings.scenario, lookup)
    events = list(events)
    bodies = [event.get_body() for event in events]
    enqueued = [latency.enqueued_ms(getattr(event, "enqueued_time", None)) for event in events]
    result = validate_batch(
        bodies, truth, settings.validation_sample_rate, new_batch_id(now), enqueued
    )
    summary = result.summary(settings.validation_sample_rate, now)
    entities = finding_entities(result, now)
    if entities:
        findings_out.set(json.dumps(entities))
    summary_out.set(
        json.dumps([{"PartitionKey": _partition(now), "RowKey": result.batch_id, **summary}])
    )
    log.info(json.dumps({"bms": "validate_joined", **summary}, sort_keys=True))
    return result


_lookup: ManifestLookup | None = None


def _process_manifests(store_factory: Callable[[], Any]) -> ManifestLookup:
    global _lookup
    if _lookup is None:
        _lookup = cached_manifests(store_factory)
    return _lookup
