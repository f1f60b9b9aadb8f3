"""The HTTP functions' logic: POST /api/burst, GET /api/burst/{burst_id} and GET /api/health.

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

from bms_core import __version__
from bms_core.functions import runtime

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
    queue: Any = None,
    progress: Any = None,
) -> Any:
    """Set ``bookings`` to ``orders`` bookings now and ``payments`` to the payments already
    due; remember the burst so its later payments follow. 202, or 4xx/405/503.

    A burst larger than one chunk (``BMS_BURST_CHUNK_ORDERS``) or spread over ``over_seconds``
    is fanned out instead (:func:`_fan_out`): both outputs stay unset and the answer takes a few
    storage writes whatever the size. ``settings``, ``manifests``, ``now_ms``, ``queue`` (the
    burst queue) and ``progress`` (the burst progress store) default to the running
    :mod:`bms_core.functions.runtime`'s; a broken app setting answers 503 naming it (the operator's
    problem, not the client's).
    """
    from bms_core import timefmt
    from bms_core.functions import bursts, timers
    from bms_core.functions import settings as settings_module
    from bms_core.traffic import generator

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
        return _answer(exc.status, exc.as_json())

    now = runtime.current().clock() if now_ms is None else now_ms
    anchor_ms = now - now % 1000
    burst_id = runtime.current().new_burst_id()
    if request.orders > settings.burst_chunk_orders or request.over_seconds > 0:
        return _fan_out(
            request, scenario, settings, burst_id, anchor_ms, now, manifests, queue, progress
        )
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
    events = generator.burst_to_send(scenario, burst_id, request.orders, anchor_ms)
    # Payments already due in slots the payments timer has ticked past (a booking up to 1 s
    # before the anchor can be paid 0.5 s later) go now; later ones follow through the manifest.
    current = settings.scenario
    ticked_until = generator.slot_bounds(current, generator.slot_at(current, now))[0]
    early = generator.burst_payments_to_send(
        scenario,
        burst_id,
        request.orders,
        anchor_ms,
        anchor_ms - generator.BURST_SPREAD_MS,
        ticked_until,
    )
    try:
        booking_bodies, payment_bodies = timers.bodies_of(events), timers.bodies_of(early)
    except timers.EmitFailed as exc:
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


def _fan_out(
    request: Any,
    scenario: Any,
    settings: Any,
    burst_id: str,
    anchor_ms: int,
    now: int,
    manifests: Any,
    queue: Any,
    progress: Any,
) -> Any:
    """Store the burst, put the top of its fan-out tree on the queue; 202 with its timing."""
    from bms_core import flash, timefmt
    from bms_core.functions import bursts
    from bms_core.traffic import generator
    from bms_core.traffic.payments import MAX_PAYMENT_DELAY_MS

    spec = flash.BurstSpec(
        burst_id=burst_id,
        seed=scenario.seed,
        orders=request.orders,
        chunk_orders=settings.burst_chunk_orders,
        anchor_ms=anchor_ms,
        over_seconds=request.over_seconds,
        overrides=dict(request.overrides),
    )
    # The bounds of any payment; the payments timer leaves a fanned-out burst to its chunks.
    manifest = bursts.BurstManifest(
        burst_id,
        spec.seed,
        spec.orders,
        anchor_ms,
        spec.overrides,
        anchor_ms - generator.BURST_SPREAD_MS,
        spec.last_booking_ms + MAX_PAYMENT_DELAY_MS,
        0,
        0,
        now,
        chunk_orders=spec.chunk_orders,
        over_seconds=spec.over_seconds,
    )
    try:
        (manifests if manifests is not None else runtime.current().manifests).put(manifest)
        (progress if progress is not None else runtime.current().burst_progress).start(spec)
        flash.enqueue_burst(
            spec, queue if queue is not None else runtime.current().burst_queue, now
        )
    except Exception as exc:  # storage is infrastructure: the client can retry later
        log.exception("burst not queued")
        return _answer(503, {"error": f"burst not queued: {type(exc).__name__}: {exc}"})
    body = {
        "burst_id": burst_id,
        "orders": spec.orders,
        "over_seconds": spec.over_seconds,
        "chunks": spec.chunks,
        "chunk_orders": spec.chunk_orders,
        "first_booking": timefmt.format_ms(anchor_ms),
        "last_booking": timefmt.format_ms(spec.last_booking_ms),
        "payments_end_by": timefmt.format_ms(spec.last_booking_ms + MAX_PAYMENT_DELAY_MS),
        "progress": f"/api/burst/{burst_id}",
    }
    log.info(json.dumps({"bms": "burst", **body}, sort_keys=True))
    return _answer(202, body)


def run_burst_status(req: Any, *, progress: Any = None) -> Any:
    """A fanned-out burst's progress: chunks done, failed, pending; events sent; expected end.

    ``progress`` defaults to the running :mod:`bms_core.functions.runtime`'s burst progress store.
    """
    from bms_core.functions import settings as settings_module
    from bms_core.traffic import orderid

    if req.method.upper() != "GET":
        return _answer(405, {"error": "use GET", "field": "method"}, {"Allow": "GET"})
    burst_id = (getattr(req, "route_params", None) or {}).get("burst_id", "")
    if not orderid.is_burst_id(burst_id):
        return _answer(
            400,
            {
                "error": "burst_id must be 'b' followed by 8 to 16 lowercase letters or digits",
                "field": "burst_id",
            },
        )
    try:
        found = (progress if progress is not None else runtime.current().burst_progress).read(
            burst_id
        )
    except settings_module.SettingsError as exc:
        return _answer(503, {"error": f"app setting problem: {exc}", "setting": exc.setting})
    except Exception as exc:
        log.exception("burst progress unreadable")
        return _answer(503, {"error": f"burst progress unreadable: {type(exc).__name__}: {exc}"})
    if found is None:
        return _answer(
            404,
            {
                "error": f"no fanned-out burst {burst_id} (a burst sent inline has no progress)",
                "field": "burst_id",
            },
        )
    return _answer(200, found.as_json())


def run_health(req: Any, env: Any = None) -> Any:
    """200 when every required setting is present and well formed, else 503; names only.

    ``env`` defaults to the running :mod:`bms_core.functions.runtime`'s app settings.
    """
    from bms_core.functions import settings as settings_module

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
