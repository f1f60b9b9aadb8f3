"""The demo's functions stage, in a process of its own: the timers and the burst, tick by tick.

It runs the real handlers of ``function_app.py`` through :class:`bms_local.host.LocalHost` on
the simulated clock; their Event Hubs outputs go out in the background with the SDK, as the
Functions host sends them. After each tick it puts a :class:`TickSent` on a queue: the bodies
that tick's outputs carried, by hub, so the stream stage knows which tick each event it receives
belongs to and can reconcile every count. Running apart, the generator and the producers' AMQP
encoding use the machine's second core while the stream job, the warehouse and the validator
use the first.
"""

from __future__ import annotations

import json
import traceback
from dataclasses import dataclass, field
from typing import Any

DONE = "done"


@dataclass(frozen=True)
class FunctionsPlan:
    """What the stage runs: the app settings, the ticks, and when the one burst comes."""

    env: dict[str, str]
    seed: int
    start_ms: int
    end_ms: int
    ticks: list[int]
    tick_ms: int
    burst_orders: int
    burst_at_ms: int


@dataclass
class TickSent:
    """What one tick's invocations carried to the hubs."""

    tick_ms: int
    timers: dict[str, list[bytes]] = field(default_factory=dict)
    """Bodies the timers' outputs carried, by hub."""
    others: dict[str, list[bytes]] = field(default_factory=dict)
    """Bodies other invocations (the burst) carried, by hub."""
    burst: dict[str, Any] | None = None
    """The burst's 202 answer with its ``anchor_ms``, when one ran at this tick."""


def burst_id_for(seed: int, now_ms: int) -> str:
    """A burst's name from the seed and its simulated moment: the same on every run."""
    import hashlib

    return "b" + hashlib.blake2b(f"demo-{seed}-{now_ms}".encode(), digest_size=5).hexdigest()


def run_functions(plan: FunctionsPlan, out: Any) -> None:
    """The stage's process: every tick of ``plan``, then :data:`DONE` (or the error's text)."""
    try:
        _run(plan, out)
    except BaseException:
        out.put(("error", traceback.format_exc()))
        raise
    out.put((DONE, None))


def _run(plan: FunctionsPlan, out: Any) -> None:
    from bms_core.functions.runtime import Runtime
    from bms_local.host import LocalHost
    from bms_local.sending import close_producers

    now_ms = plan.start_ms
    runtime = Runtime(
        plan.env, clock=lambda: now_ms, burst_ids=lambda: burst_id_for(plan.seed, now_ms)
    )
    host = LocalHost(env=plan.env, runtime=runtime, background_outputs=True)
    try:
        previous = plan.start_ms
        for tick in plan.ticks:
            now_ms = tick
            sent = TickSent(tick)
            timers = ["emit_bookings"] if tick <= plan.end_ms else []
            for name in [*timers, "emit_payments"]:
                invocation = host.timer(name, last_ms=previous, next_ms=tick + plan.tick_ms)
                _extend(sent.timers, host.eventhub_events(invocation))
            if plan.burst_orders and plan.burst_at_ms < tick <= plan.burst_at_ms + plan.tick_ms:
                invocation = host.http(
                    "burst", method="POST", body=json.dumps({"orders": plan.burst_orders}).encode()
                )
                _extend(sent.others, host.eventhub_events(invocation))
                response = invocation.result
                answer = json.loads(response.get_body())
                if response.status_code != 202:
                    raise RuntimeError(f"burst answered {response.status_code}: {answer}")
                sent.burst = {**answer, "anchor_ms": tick - tick % 1000}
            out.put(sent)
            previous = tick
        host.flush()
    finally:
        try:
            host.close()
        finally:
            close_producers()


def _extend(into: dict[str, list[bytes]], sent: dict[str, list[bytes]]) -> None:
    for hub, bodies in sent.items():
        into.setdefault(hub, []).extend(bodies)
