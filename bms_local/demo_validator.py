"""The demo's validator stage, in a process of its own: ``validate_joined`` on the joined hub.

The stream stage tells it, tick by tick, which bodies it sent to the joined hub (a
:class:`JoinedTick` each); it reads the hub with the SDK (consumer group ``validator``), takes
each tick whole once its events have arrived, and runs the real ``validate_joined`` through
:class:`bms_local.host.LocalHost` on batches of up to ``host.json``'s ``maxEventBatchSize``, each
event enqueued, on the simulated clock, at the tick the job sent it. Findings and summaries go to
Azurite through the function's table outputs. At the end it returns its :class:`ValidatorTally`.
"""

from __future__ import annotations

import json
import traceback
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

DONE = "done"


@dataclass(frozen=True)
class ValidatorPlan:
    env: dict[str, str]
    joined_hub: str
    consumer_group: str
    batch: int


@dataclass(frozen=True)
class JoinedTick:
    """The bodies the stream job sent to the joined hub at one tick (none is news too)."""

    tick_ms: int
    bodies: list[bytes]


@dataclass
class ValidatorTally:
    """What the validator's summary rows and findings added up to."""

    counts: Counter[str] = field(default_factory=Counter)
    """Every count of the summary rows, summed (figures such as percentiles are not)."""
    findings_by_rule: Counter[str] = field(default_factory=Counter)
    batch_latencies: list[dict[str, int]] = field(default_factory=list)
    """The latency figures of each summary row that had any."""

    def add(self, invocation: Any) -> None:
        from bms_core.joined import latency

        for entity in json.loads(invocation.outputs.get("summary") or "[]"):
            figures = {k: v for k, v in entity.items() if k in latency.FIGURES}
            if figures:
                self.batch_latencies.append(figures)
            for key, value in entity.items():
                counted = isinstance(value, int) and not isinstance(value, bool)
                if counted and key not in latency.FIGURES:
                    self.counts[key] += value
        for finding in json.loads(invocation.outputs.get("findings") or "[]"):
            self.findings_by_rule[str(finding.get("rule", "unknown"))] += 1


def run_validator(plan: ValidatorPlan, inbox: Any, outbox: Any) -> None:
    """The stage's process: validate until the stream stage sends ``None``, then report."""
    try:
        tally = _run(plan, inbox)
    except BaseException:
        outbox.put(("error", traceback.format_exc()))
        raise
    outbox.put((DONE, tally))


def _run(plan: ValidatorPlan, inbox: Any) -> ValidatorTally:
    from bms_core import names
    from bms_core.functions.runtime import Runtime
    from bms_local.host import LocalHost
    from bms_local.pipeline import HubReader, SentEvents, TickedHub, function_events

    now_ms = 0
    runtime = Runtime(plan.env, clock=lambda: now_ms)
    host = LocalHost(env=plan.env, runtime=runtime, background_outputs=True)
    reader = HubReader(
        plan.env[names.EVENTHUB_CONNECTION_SETTING], plan.joined_hub, plan.consumer_group
    )
    sent = SentEvents()
    joined = TickedHub(reader, sent)
    tally = ValidatorTally()
    try:
        finished = False
        while not finished:
            message = inbox.get()
            if message is None:
                finished = True
            else:
                for tick in message:
                    sent.record(plan.joined_hub, tick.bodies, tick.tick_ms, contract=False)
                    joined.end_tick(tick.tick_ms)
            for tick_ms, batch in joined.ready(wait=finished):
                now_ms = tick_ms
                events = function_events([placed.received for placed in batch], tick_ms)
                for start in range(0, len(events), plan.batch):
                    tally.add(host.eventhub("validate_joined", events[start : start + plan.batch]))
        host.flush()
    finally:
        try:
            host.close()
        finally:
            reader.close()
    return tally
