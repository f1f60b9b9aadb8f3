"""The demo's report: terminal tables, ``report.json`` and a self-contained ``report.html``.

The report is built from one :class:`DemoReport` value. Counts at every hop must reconcile;
:meth:`DemoReport.reconciliation` says which equations hold, and the HTML and the terminal show
the same numbers as the JSON. Charts are inline SVG, so the HTML needs no network and no
JavaScript library.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from bms_core.joined.latency import EXPLANATION


@dataclass
class Counts:
    """Events and rows at each hop of the local pipeline."""

    orders: int = 0
    bookings_sent: int = 0
    payments_sent: int = 0
    malformed_sent: int = 0
    duplicates_sent: int = 0
    bookings_in: int = 0
    payments_in: int = 0
    rejected_in: int = 0
    joined_rows: int = 0
    joined_pairs: int = 0
    warehouse_rows: int = 0
    warehouse_order_rows: int = 0
    curated_rows: int = 0
    """Seat rows the curated table (one per key) took from the landing table at the end."""
    curated_order_rows: int = 0
    joined_hub_events: int = 0
    """Messages carrying the joined rows: up to 100 rows each, packed per partition from what the
    job emitted in one simulated tick."""
    validated: int = 0
    findings: int = 0


@dataclass
class Unmatched:
    """Orders with no successful joined payment, by cause."""

    never_paid: int = 0
    after_window: int = 0
    failed_only: int = 0


TIMING_FIELDS = ("wall_seconds",)
"""The report's only wall-clock figures: everything else is the same on every run of the same
options (seed, start, minutes, rates)."""


@dataclass
class DemoReport:
    """Everything a demo run shows; serialised as ``report.json``."""

    seed: int
    start: str
    minutes: int
    orders_per_minute: float
    wall_seconds: float
    counts: Counts = field(default_factory=Counts)
    unmatched: Unmatched = field(default_factory=Unmatched)
    outcomes: dict[str, int] = field(default_factory=dict)
    revenue_by_category: dict[str, str] = field(default_factory=dict)
    delay_percentiles_s: dict[str, float] = field(default_factory=dict)
    delay_histogram: list[tuple[str, int]] = field(default_factory=list)
    bookings_per_minute: list[int] = field(default_factory=list)
    payments_per_minute: list[int] = field(default_factory=list)
    """Payments of this run's orders, by the simulated minute they were sent."""
    other_payments_per_minute: list[int] = field(default_factory=list)
    """Payments of orders booked before the run or after it (see ``truth``)."""
    join_rate_per_minute: list[float] = field(default_factory=list)
    findings_by_rule: dict[str, int] = field(default_factory=dict)
    latency_s: dict[str, float] = field(default_factory=dict)
    """The pipeline's latency over the rows of sampled orders (joined row enqueued on the joined
    hub minus payment_time, simulated clock): rows, unknown, p50, p95, p99, max."""
    validator_latency_s: dict[str, float] = field(default_factory=dict)
    """What the validator's summary rows said: batches with figures, their largest p99 and max."""
    stream_job: dict[str, int] = field(default_factory=dict)
    verdict: str = "unknown"
    checks: dict[str, bool] = field(default_factory=dict)
    truth: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def simulated_hours_per_minute(self) -> float:
        return (self.minutes / 60) / max(self.wall_seconds / 60, 1e-9)


LOCAL_LATENCY_NOTE = (
    "In this run the times are simulated: the reference job emits a pair as soon as its second "
    "event arrives, so the figures are the wait for the timer tick that sends the payment."
)


def _latency_value(key: str, value: float) -> str:
    return f"{value:.0f}" if key in ("rows", "unknown", "batches") else f"{value:.1f}"


def _table(title: str, rows: list[tuple[str, object]]) -> str:
    width = max([len(k) for k, _ in rows] + [len(title)])
    lines = [title, "-" * (width + 14)]
    for key, value in rows:
        lines.append(f"{key:<{width}}  {value:>12}")
    return "\n".join(lines)


def render_text(report: DemoReport) -> str:
    """The tables the demo prints at the end."""
    c, u = report.counts, report.unmatched
    parts = [
        _table(
            "Counts at each hop",
            [
                ("orders generated", c.orders),
                ("bookings sent", c.bookings_sent),
                ("payments sent", c.payments_sent),
                ("  of which duplicates", c.duplicates_sent),
                ("  malformed sent", c.malformed_sent),
                (
                    "  of orders outside the run",
                    report.truth.get("payments_of_orders_outside_run", 0),
                ),
                ("bookings in (stream job)", c.bookings_in),
                ("payments in (stream job)", c.payments_in),
                ("rejected by stream job", c.rejected_in),
                ("joined pairs", c.joined_pairs),
                ("joined seat rows", c.joined_rows),
                ("warehouse seat rows", c.warehouse_rows),
                ("warehouse order rows", c.warehouse_order_rows),
                ("curated seat rows (one per key)", c.curated_rows),
                ("curated order rows (one per key)", c.curated_order_rows),
                ("rows sampled by validator", c.validated),
                ("findings", c.findings),
            ],
        ),
        _table(
            "Orders without a joined successful payment",
            [
                ("never paid", u.never_paid),
                ("paid after the 900 s window", u.after_window),
                ("only failed attempts", u.failed_only),
            ],
        ),
        _table(
            "Revenue by category (INR, de-duplicated)", list(report.revenue_by_category.items())
        ),
        _table(
            "Booking-to-payment delay (s)",
            [(k, f"{v:.1f}") for k, v in report.delay_percentiles_s.items()],
        ),
        _table(
            "Pipeline latency (s): joined row enqueued minus payment_time",
            [(k, _latency_value(k, v)) for k, v in report.latency_s.items()]
            + [
                (f"validator {k}", _latency_value(k, v))
                for k, v in report.validator_latency_s.items()
            ],
        ),
        LOCAL_LATENCY_NOTE + " " + EXPLANATION,
        _table(
            "Reconciliation", [(k, "ok" if v else "MISMATCH") for k, v in report.checks.items()]
        ),
        f"Validator verdict: {report.verdict}"
        + (
            f"  ({', '.join(f'{k}: {v}' for k, v in report.findings_by_rule.items())})"
            if report.findings_by_rule
            else ""
        ),
        "Payments of orders outside the run: the payments timer is stateless and sends every "
        "payment that falls due, including those of orders booked before the run started or "
        "during the drain after its last booking (their bookings were never sent); the stream "
        "job counts them as unmatched payments.",
        f"Simulated {report.minutes} min in {report.wall_seconds:.1f} s wall clock "
        f"({report.simulated_hours_per_minute:.1f} simulated hours per minute).",
    ]
    return "\n\n".join(parts)


class Chart(NamedTuple):
    """One bar chart of the page: what it shows, its axes (with units) and its series."""

    key: str
    title: str
    x_label: str
    y_label: str
    labels: list[str]
    series: list[tuple[str, list[float]]]


SERIES_COLOURS = {
    "bookings": "#3b6ea8",
    "payments": "#d9822b",
    "others' payments": "#2a9d8f",
    "payment attempts": "#8e44ad",
    "join rate": "#c0392b",
    "latency": "#6b8e23",
}
"""One colour per series across the page, so every series can be told apart (and found)."""


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 4, 5 or 10 times a power of ten that is at least ``value``, so the
    axis' quarter ticks read as round numbers."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 4, 5, 10) if step * power >= value)


def _chart_svg(chart: Chart) -> str:
    """A grouped bar chart as inline SVG with titled axes, tick values and a legend."""
    width, height = 720, 260
    left, right, top, bottom = 64, 12, 44, 52
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max((len(values) for _, values in chart.series), default=0)
    peak = _nice_ceiling(max((max(v) for _, v in chart.series if v), default=0.0))
    base_y = top + plot_h
    e = html.escape
    out = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'data-chart="{e(chart.key)}" aria-label="{e(chart.title)}" font-family="sans-serif">',
        f'<text x="{left}" y="16" font-size="14" font-weight="bold">{e(chart.title)}</text>',
        f'<line x1="{left}" y1="{base_y}" x2="{width - right}" y2="{base_y}" stroke="#555"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{base_y}" stroke="#555"/>',
    ]
    for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = base_y - plot_h * fraction
        out.append(
            f'<line x1="{left - 4}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
            f'stroke="#ddd"/><text x="{left - 6}" y="{y + 4:.1f}" font-size="10" '
            f'text-anchor="end">{peak * fraction:,g}</text>'
        )
    out.append(
        f'<text class="axis-label y" x="14" y="{top + plot_h / 2:.1f}" font-size="11" '
        f'text-anchor="middle" transform="rotate(-90 14 {top + plot_h / 2:.1f})">'
        f"{e(chart.y_label)}</text>"
        f'<text class="axis-label x" x="{left + plot_w / 2:.1f}" y="{height - 8}" '
        f'font-size="11" text-anchor="middle">{e(chart.x_label)}</text>'
    )
    if n:
        slot = plot_w / n
        bar = max(slot * 0.9 / len(chart.series), 0.5)
        for s_index, (name, values) in enumerate(chart.series):
            colour = SERIES_COLOURS.get(name, "#555")
            out.append(f'<g class="series" data-series="{e(name)}" fill="{colour}">')
            for i, value in enumerate(values):
                h = plot_h * (value / peak)
                x = left + i * slot + slot * 0.05 + s_index * bar
                label = chart.labels[i] if i < len(chart.labels) else str(i)
                out.append(
                    f'<rect x="{x:.1f}" y="{base_y - h:.1f}" width="{bar:.1f}" height="{h:.1f}">'
                    f"<title>{e(name)} {e(label)}: {value:g}</title></rect>"
                )
            out.append("</g>")
            out.append(
                f'<rect x="{width - 420 + s_index * 140}" y="24" width="10" height="10" '
                f'fill="{colour}"/><text x="{width - 406 + s_index * 140}" y="33" '
                f'font-size="11">{e(name)}</text>'
            )
        step = max(-(-n // 12), 1)
        for i in range(0, n, step):
            label = chart.labels[i] if i < len(chart.labels) else str(i)
            out.append(
                f'<text x="{left + (i + 0.5) * slot:.1f}" y="{base_y + 14}" font-size="10" '
                f'text-anchor="middle">{e(label)}</text>'
            )
    out.append("</svg>")
    return "".join(out)


def charts(report: DemoReport) -> list[Chart]:
    """The page's charts, each with its axes' meaning and units and its series."""
    sent_minutes = [str(i) for i in range(len(report.payments_per_minute))]
    latency = [(k, v) for k, v in report.latency_s.items() if k in ("p50", "p95", "p99", "max")]
    return [
        Chart(
            "sent",
            "Bookings and payments sent per simulated minute",
            "simulated minute since the start (min)",
            "events sent (per min)",
            sent_minutes,
            [
                ("bookings", [float(v) for v in report.bookings_per_minute]),
                ("payments", [float(v) for v in report.payments_per_minute]),
                ("others' payments", [float(v) for v in report.other_payments_per_minute]),
            ],
        ),
        Chart(
            "delay",
            "Booking-to-payment delay (all attempts)",
            "delay from booking to payment attempt (s)",
            "payment attempts (count)",
            [k for k, _ in report.delay_histogram],
            [("payment attempts", [float(v) for _, v in report.delay_histogram])],
        ),
        Chart(
            "join-rate",
            "Join rate per booking minute",
            "booking minute since the start (min)",
            "orders with a joined payment (%)",
            [str(i) for i in range(len(report.join_rate_per_minute))],
            [("join rate", [round(v * 100, 1) for v in report.join_rate_per_minute])],
        ),
        Chart(
            "latency",
            "Pipeline latency: joined row enqueued minus payment_time",
            "percentile of the sampled orders' rows (%)",
            "latency (s)",
            [k for k, _ in latency],
            [("latency", [v for _, v in latency])],
        ),
    ]


def render_html(report: DemoReport) -> str:
    """A self-contained page (no network, no script): the numbers of report.json and charts."""
    body = html.escape(render_text(report))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>bms-stream local pipeline report</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:24px;max-width:960px}"
        "pre{background:#f6f6f6;padding:12px;overflow:auto}"
        f".verdict{{font-size:18px;font-weight:bold;color:"
        f"{'#1b7f3b' if report.verdict == 'clean' else '#b00020'}}}</style></head><body>"
        "<h1>bms-stream local pipeline</h1>"
        f"<p class='verdict'>Validator verdict: {html.escape(report.verdict)}</p>"
        f"<p>seed {report.seed}, start {html.escape(report.start)}, {report.minutes} simulated "
        f"minutes at a base rate of {report.orders_per_minute:g} orders/min (shaped by the hour "
        f"and weekday), {report.wall_seconds:.1f} s wall clock.</p>"
        + "".join(f"<div>{_chart_svg(chart)}</div>" for chart in charts(report))
        + f"<h2>Tables</h2><pre>{body}</pre></body></html>"
    )


def write_report(report: DemoReport, directory: Path) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into ``directory`` (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "report.json"
    html_path = directory / "report.html"
    json_path.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
    html_path.write_text(render_html(report), encoding="utf-8")
    return json_path, html_path
