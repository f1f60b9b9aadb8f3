"""The HTTP functions' logic: POST /api/burst and GET /api/health.

Every answer is JSON. A request a user can fix gets a 4xx naming the field; a storage failure
gets 503 with the reason; nothing a client sends produces a 500. The burst's events leave through
the function's two Event Hubs output bindings after it returns; if the host cannot write them the
invocation fails and the client gets the host's 500 instead of the 202. The manifest is stored
by then, so the burst's later payments still come, unmatched by bookings (the stream job counts
them as payments without a booking).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import azure.functions as func

from bms_core import __version__, runtime

log = logging.getLogger("bms.http")
JSON = "application/json"


def _answer(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return func.HttpResponse(
        json.dumps(body, sort_keys=True), status_code=status, mimetype=JSON, headers=headers
    )


def run_burst(
    req: Any,
    bookings: Any,
    payments: Any,
    *,
    settings: Any = None,
    manifests: Any = None,
    now_ms: int | None = None,
) -> Any:
    """Set ``bookings`` to ``orders`` bookings now and ``payments`` to the payments already
    due; remember the burst so its later payments follow. 202, or 4xx/405/503.

    ``settings``, ``manifests`` and ``now_ms`` default to the running :mod:`bms_core.runtime`'s;
    a broken app setting answers 503 naming it (the operator's problem, not the client's).
    """
    from bms_core import bursts, emit, generator, timefmt
    from bms_core import settings as settings_module

    if req.method.upper() != "POST":
        return _answer(
            405,
            {"error": f"method {req.method.upper()} not allowed; use POST", "field": "method"},
            {"Allow": "POST"},
        )
    if settings is None:
        try:
            settings = runtime.current().settings
        except settings_module.SettingsError as exc:
            return _answer(503, {"error": f"app setting problem: {exc}", "setting": exc.setting})
    try:
        request = bursts.parse_burst_request(req.get_body() or b"", settings.burst_max_orders)
        scenario = bursts.apply_overrides(settings.scenario, request)
    except bursts.BurstRequestError as exc:
        return _answer(400, exc.as_json())

    now = runtime.current().clock() if now_ms is None else now_ms
    anchor_ms = now - now % 1000
    burst_id = runtime.current().new_burst_id()
    orders = generator.burst_orders(scenario, burst_id, request.orders, anchor_ms)
    due = [timefmt.parse_ms(p.payment_time) for order in orders for p in order.payments]
    manifest = bursts.BurstManifest(
        burst_id=burst_id,
        seed=scenario.seed,
        orders=request.orders,
        anchor_ms=anchor_ms,
        overrides=dict(request.overrides),
        first_payment_due_ms=min(due) if due else None,
        last_payment_due_ms=max(due) if due else None,
        payments_scheduled=len(due),
        bookings_sent=request.orders,
        created_ms=now,
    )
    try:
        (manifests if manifests is not None else runtime.current().manifests).put(manifest)
    except Exception as exc:  # storage is infrastructure: the client can retry later
        log.exception("burst manifest not stored")
        return _answer(503, {"error": f"burst manifest not stored: {type(exc).__name__}: {exc}"})
    events = generator.emit_burst(scenario, burst_id, request.orders, anchor_ms)
    # Payments already due in slots the payments timer has ticked past (a booking up to 1 s
    # before the anchor can be paid 0.5 s later) go now; later ones follow through the manifest.
    current = settings.scenario
    ticked_until = generator.slot_bounds(current, generator.slot_at(current, now))[0]
    early = generator.emit_burst_payments(
        scenario,
        burst_id,
        request.orders,
        anchor_ms,
        anchor_ms - generator.BURST_SPREAD_MS,
        ticked_until,
    )
    try:
        booking_bodies, payment_bodies = emit.bodies_of(events), emit.bodies_of(early)
    except emit.EmitFailed as exc:
        log.exception("burst events not produced")
        return _answer(503, {"error": str(exc), "burst_id": burst_id})
    bookings.set(booking_bodies)
    payments.set(payment_bodies)
    body = {
        "burst_id": burst_id,
        "orders": request.orders,
        "bookings_sent": len({e.event_id for e in events if e.event_id is not None}),
        "payments_scheduled": len(due),
        "first_payment_due": timefmt.format_ms(min(due)) if due else None,
        "last_payment_due": timefmt.format_ms(max(due)) if due else None,
    }
    log.info(json.dumps({"bms": "burst", "payments_sent_now": len(early), **body}, sort_keys=True))
    return _answer(202, body)


def run_health(req: Any, env: Any = None) -> Any:
    """200 when every required setting is present and well formed, else 503; names only.

    ``env`` defaults to the running :mod:`bms_core.runtime`'s app settings.
    """
    from bms_core import settings as settings_module

    if req.method.upper() != "GET":
        return _answer(405, {"error": "use GET", "field": "method"}, {"Allow": "GET"})
    if env is None:
        env = runtime.current().env
    missing = settings_module.missing_required(env)
    malformed = settings_module.malformed(env)
    body: dict[str, Any] = {
        "status": "ok" if not missing and malformed is None else "unhealthy",
        "version": __version__,
        "missing_settings": missing,
        "malformed_settings": [] if malformed is None else [malformed],
    }
    return _answer(200 if body["status"] == "ok" else 503, body)
