"""What the demo should have seen, from the generator, and the report that compares it.

The generator is the truth: every order of the run (timer slots inside the run, plus the burst)
is regenerated, and with the exact copies the producers sent (duplicates included) it says how
many pairs the join must emit and which orders must have a joined successful payment. Each
check in the report compares one such number with what the pipeline actually did.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from bms_core.joined.columns import ORDER_TABLE, SEAT_TABLE
from bms_core.joined.projection import in_window
from bms_core.timefmt import format_ms, parse_ms
from bms_local.report import Counts, DemoReport, Unmatched

DRAIN_MINUTES = 16
"""Payments keep flowing this long after the last booking: the join window plus a minute."""

DELAY_BUCKETS_S = (10, 30, 60, 120, 300, 600, 900, 1200)


def _count(warehouse: Any, table: str) -> int:
    from bms_core.synapse.ddl import sqlite_table_name

    rows = warehouse.query(f"SELECT COUNT(*) AS n FROM {sqlite_table_name(table)}")
    return int(rows[0]["n"])


def _distinct_seat_keys(warehouse: Any) -> int:
    """(payment_event_id, seat_index) keys in the landing seat table, counted directly."""
    from bms_core.synapse.ddl import sqlite_table_name

    table = sqlite_table_name(SEAT_TABLE)
    rows = warehouse.query(
        f"SELECT COUNT(*) AS n FROM (SELECT DISTINCT payment_event_id, seat_index FROM {table})"
    )
    return int(rows[0]["n"])


def revenue_by_category(warehouse: Any) -> dict[str, str]:
    """Amount paid per event category from the de-duplicated revenue view (order grain)."""
    from bms_core.synapse.ddl import sqlite_table_name

    rows = warehouse.query(
        "SELECT event_category, SUM(amount_paid) AS amount FROM "
        f"{sqlite_table_name('bms.v_revenue_daily')} GROUP BY event_category "
        "ORDER BY amount DESC"
    )
    return {str(r["event_category"]): f"{r['amount']:.2f}" for r in rows}


def run_orders(run: Any) -> list[Any]:
    """Every order the run booked: its timer slots and its bursts."""
    from bms_core.traffic import generator

    scenario = run.scenario
    first = generator.slot_at(scenario, run.start_ms)
    last = generator.slot_at(scenario, run.end_ms)
    orders = [order for slot in range(first, last) for order in generator.orders_in(scenario, slot)]
    for burst in run.bursts:
        orders.extend(
            generator.burst_orders(scenario, burst["burst_id"], burst["orders"], burst["anchor_ms"])
        )
    return orders


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def _histogram(delays_s: list[float]) -> list[tuple[str, int]]:
    counts = Counter[str]()
    labels = []
    low = 0
    for high in DELAY_BUCKETS_S:
        labels.append(f"{low}-{high}s")
        low = high
    labels.append(f">{DELAY_BUCKETS_S[-1]}s")
    for delay in delays_s:
        for i, high in enumerate(DELAY_BUCKETS_S):
            if delay < high:
                counts[labels[i]] += 1
                break
        else:
            counts[labels[-1]] += 1
    return [(label, counts[label]) for label in labels]


def latency_seconds(values_ms: list[int], unknown: int) -> dict[str, float]:
    """Run-wide latency figures in seconds, from the same function the validator uses."""
    from bms_core.joined import latency

    fields = latency.summary_fields(values_ms, unknown)
    out = {"rows": float(fields[latency.ROWS]), "unknown": float(fields[latency.UNKNOWN])}
    for name in latency.FIGURES:
        if name in fields:
            out[name.removeprefix("latency_").removesuffix("_ms")] = fields[name] / 1000
    return out


def validator_latency_seconds(batches: list[dict[str, int]]) -> dict[str, float]:
    if not batches:
        return {"batches": 0.0}
    return {
        "batches": float(len(batches)),
        "largest batch p99": max(b["latency_p99_ms"] for b in batches) / 1000,
        "largest batch max": max(b["latency_max_ms"] for b in batches) / 1000,
    }


def latency_checks(run: Any) -> dict[str, bool]:
    """The validator measured exactly the rows of sampled orders, and the same largest delay."""
    measured = run.validator.get("latency_rows", 0) + run.validator.get("latency_unknown", 0)
    checks = {
        "validator latency rows == rows of sampled orders": measured
        == len(run.latencies_ms) + run.latency_unknown,
    }
    if run.latencies_ms:
        checks["latency max == largest validator batch max"] = max(run.latencies_ms) == max(
            (b["latency_max_ms"] for b in run.batch_latencies), default=None
        )
    return checks


def build_report(run: Any, orders: list[Any] | None = None) -> DemoReport:
    """Reconcile the run's tallies against the truth (``orders``: :func:`run_orders`, computed
    here when not given) and fill the report."""
    options = run.options
    sent_b = run.sent.log("bookings")
    sent_p = run.sent.log("payments")
    if orders is None:
        orders = run_orders(run)
    order_ids = {order.booking.order_id for order in orders}

    expected_pairs = expected_rows = 0
    matched_truth: set[str] = set()
    unmatched = Unmatched()
    outcomes = Counter[str]()
    delays_s: list[float] = []
    per_minute_orders = Counter[int]()
    per_minute_matched = Counter[int]()
    run_payments_per_minute = Counter[int]()
    for order in orders:
        booking = order.booking
        b_ms = parse_ms(booking.booking_time)
        b_copies = sent_b.copies[booking.event_id]
        outcomes[order.outcome] += 1
        seats = len(booking.event_details.seats)
        has_success = joined_success = False
        for payment in order.payments:
            p_ms = parse_ms(payment.payment_time)
            delays_s.append((p_ms - b_ms) / 1000)
            run_payments_per_minute[(p_ms - run.start_ms) // 60_000] += sent_p.copies[
                payment.event_id
            ]
            inside = in_window(b_ms, p_ms)
            if inside:
                pairs = b_copies * sent_p.copies[payment.event_id]
                expected_pairs += pairs
                expected_rows += pairs * seats
            if payment.payment_status == "Success":
                has_success = True
                joined_success = joined_success or (inside and b_copies > 0)
        minute = (b_ms - run.start_ms) // 60_000
        per_minute_orders[minute] += 1
        if joined_success:
            matched_truth.add(booking.order_id)
            per_minute_matched[minute] += 1
        elif not order.payments:
            unmatched.never_paid += 1
        elif has_success:
            unmatched.after_window += 1
        else:
            unmatched.failed_only += 1

    matched_seen = {
        order_id
        for order_id, payments in run.pairs_by_order.items()
        if order_id in order_ids and any(p.get("payment_status") == "Success" for p in payments)
    }
    job_counts = dict(run.job.counts)
    rejected = sum(v for k, v in job_counts.items() if k.startswith("rejected:"))
    findings = sum(run.findings_by_rule.values())
    counts = Counts(
        orders=len(orders),
        bookings_sent=sent_b.events,
        payments_sent=sent_p.events,
        malformed_sent=sent_b.malformed + sent_p.malformed,
        duplicates_sent=sent_b.duplicates + sent_p.duplicates,
        bookings_in=job_counts.get("in:booking", 0),
        payments_in=job_counts.get("in:payment", 0),
        rejected_in=rejected,
        joined_rows=run.joined_rows,
        joined_pairs=run.joined_pairs,
        warehouse_rows=_count(run.warehouse, SEAT_TABLE),
        warehouse_order_rows=_count(run.warehouse, ORDER_TABLE),
        curated_rows=run.curated[0],
        curated_order_rows=run.curated[1],
        joined_hub_events=run.joined_events,
        validated=run.validator.get("sampled", 0),
        findings=findings,
    )
    stored_findings = run.stored_findings() if hasattr(run, "stored_findings") else findings
    checks = {
        "bookings_in == bookings_sent": counts.bookings_in == counts.bookings_sent,
        "payments_in == payments_sent": counts.payments_in == counts.payments_sent,
        "rejected_in == malformed_sent": counts.rejected_in == counts.malformed_sent,
        "joined_pairs == expected pairs": counts.joined_pairs == expected_pairs,
        "joined_rows == expected seat rows": counts.joined_rows == expected_rows,
        "warehouse_rows == joined_rows": counts.warehouse_rows == counts.joined_rows,
        "warehouse_order_rows == joined_pairs": counts.warehouse_order_rows == counts.joined_pairs,
        "curated_order_rows == distinct joined payment attempts": counts.curated_order_rows
        == len({p.get("event_id") for paid in run.pairs_by_order.values() for p in paid}),
        "curated_rows == distinct seat keys": counts.curated_rows
        == _distinct_seat_keys(run.warehouse),
        "validator rows == joined_rows": run.validator.get("rows", 0) == counts.joined_rows,
        "orders == matched + unmatched": counts.orders
        == len(matched_truth)
        + unmatched.never_paid
        + unmatched.after_window
        + unmatched.failed_only,
        "matched orders == truth": matched_seen == matched_truth,
        "findings stored == findings reported": stored_findings == findings,
        **latency_checks(run),
    }
    delays_sorted = sorted(delays_s)
    minutes = options.minutes
    if not all(checks.values()):
        verdict = "mismatch"
    elif findings:
        verdict = f"{findings} findings"
    else:
        verdict = "clean"
    return DemoReport(
        seed=options.seed,
        start=format_ms(run.start_ms),
        minutes=minutes,
        orders_per_minute=float(run.scenario.orders_per_minute),
        wall_seconds=0.0,
        counts=counts,
        unmatched=unmatched,
        outcomes=dict(outcomes),
        revenue_by_category=revenue_by_category(run.warehouse),
        delay_percentiles_s={
            f"p{int(q * 100)}": _percentile(delays_sorted, q) for q in (0.5, 0.9, 0.95, 0.99)
        }
        | {"max": delays_sorted[-1] if delays_sorted else 0.0},
        delay_histogram=_histogram(delays_s),
        bookings_per_minute=[run.sent_per_minute["bookings"][m] for m in range(minutes)],
        payments_per_minute=[run_payments_per_minute[m] for m in range(minutes + DRAIN_MINUTES)],
        other_payments_per_minute=[
            run.sent_per_minute["payments"][m] - run_payments_per_minute[m]
            for m in range(minutes + DRAIN_MINUTES)
        ],
        join_rate_per_minute=[
            per_minute_matched[m] / per_minute_orders[m] if per_minute_orders[m] else 0.0
            for m in range(minutes)
        ],
        findings_by_rule=dict(run.findings_by_rule),
        latency_s=latency_seconds(run.latencies_ms, run.latency_unknown),
        validator_latency_s=validator_latency_seconds(run.batch_latencies),
        stream_job=job_counts,
        verdict=verdict,
        checks=checks,
        truth={
            "expected_pairs": expected_pairs,
            "expected_seat_rows": expected_rows,
            "matched_orders": len(matched_truth),
            "payments_of_orders_outside_run": sum(
                n
                for event_id, n in sent_p.copies.items()
                if event_id.rsplit("-p", 1)[0] not in order_ids
            ),
        },
    )
