"""One ``emit_bookings`` tick through its Event Hubs output binding, against generation alone
and against sending the same tick with the ``azure-eventhub`` SDK from Python.

For a tick of 1,000 and of 10,000 bookings, in one run:

* generation alone: ``generator.emit_bookings`` for the tick's slot (the floor);
* binding path: ``emit.run_emit_bookings`` from the timer call to the filled ``Out`` list, all
  the Python work of a tick on Azure (the host sends the list);
* the worker's encoding of that list for the host (``azure.functions``' Event Hubs converter,
  one ``json.dumps``), shown apart: it runs in the worker after the function returns;
* SDK path: generation and sending the tick from Python with the SDK, keyed per partition, to
  the local emulator in its own process (what the handler did before the binding), after one
  warm-up send that opens the connection.

Targets: binding path at most 1.3x generation alone, and at least 100k events/s on one core.
Generation, the binding path and the encoding are timed in CPU seconds of this process (one
thread: "on one core", and steadier on a machine shared with other work), in pairs that take
turns, each after a full garbage collection, before any SDK client exists (its threads would be
counted); the ratio is the median of the pairs' ratios. The SDK path is timed on the wall clock,
since it waits for the emulator.

    .venv/bin/python -m bench.emit_bindings [--repeat 9] [--sdk-repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from azure.functions import meta
from azure.functions.timer import TimerRequest

from bms_core import emit, generator
from bms_core.settings import Settings
from bms_local.host import Out

NOW = 1_795_000_003_000
SIZES = (1_000, 10_000)
MAX_RATIO = 1.3
MIN_EVENTS_PER_S = 100_000


def settings_for(bookings: int) -> tuple[Settings, int]:
    """Settings whose last closed slot before NOW holds about ``bookings`` orders."""
    probe = Settings.from_env({"BMS_ORDERS_PER_MINUTE": "6000", "BMS_DUPLICATE_RATE": "0"})
    slot = generator.slot_at(probe.scenario, NOW) - 1
    rate = 6000 * bookings / max(generator.slot_order_count(probe.scenario, slot), 1)
    env = {"BMS_ORDERS_PER_MINUTE": f"{rate:.3f}", "BMS_DUPLICATE_RATE": "0"}
    return Settings.from_env(env), slot


def cpu_ms(fn: Callable[[], Any]) -> float:
    gc.collect()
    t0 = time.process_time()
    fn()
    return (time.process_time() - t0) * 1000


def wall_ms(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


@dataclass
class Tick:
    """One tick size: its settings and slot, and what was measured."""

    settings: Settings
    slot: int
    events: int = 0
    gen_ms: float = 0.0
    bind_ms: float = 0.0
    ratio: float = 0.0
    encode_ms: float = 0.0
    sdk_ms: float = float("nan")

    def generate(self) -> list[Any]:
        return generator.emit_bookings(self.settings.scenario, self.slot)

    def bind(self) -> Out:
        out = Out()
        timer = TimerRequest(past_due=False, schedule_status={})  # first tick: the last slot
        emit.run_emit_bookings(timer, out, settings=self.settings, now_ms=NOW)
        return out


def measure_python(tick: Tick, repeat: int) -> None:
    filled = tick.bind()  # warm: Faker pools and catalog are built once per process
    tick.events = len(filled.get())
    assert tick.events == len(tick.generate())
    pairs = [(cpu_ms(tick.generate), cpu_ms(tick.bind)) for _ in range(repeat)]
    tick.gen_ms = statistics.median(g for g, _ in pairs)
    tick.bind_ms = statistics.median(b for _, b in pairs)
    tick.ratio = statistics.median(b / g for g, b in pairs)
    converter = meta.get_binding_registry().get("eventHub")
    tick.encode_ms = statistics.median(
        cpu_ms(lambda: converter.encode(filled.get(), expected_type=None)) for _ in range(repeat)
    )


def measure_sdk(tick: Tick, repeat: int, sink: Any) -> None:
    def sdk() -> None:
        result = sink.send(tick.settings.bookings_hub, tick.generate())
        assert result.sent == tick.events and not result.failed

    sdk()  # warm: the first send opens the AMQP connection and link, once per process
    tick.sdk_ms = statistics.median(wall_ms(sdk) for _ in range(repeat))


def report(tick: Tick) -> bool:
    rate = tick.events / tick.bind_ms * 1000
    print(f"emit_bookings tick of {tick.events:,} bookings")
    print(
        f"  generation alone:                      {tick.gen_ms:9.1f} ms  "
        f"{tick.events / tick.gen_ms * 1000:,.0f} events/s (the ceiling of any path)"
    )
    print(
        f"  binding path (timer call -> Out list): {tick.bind_ms:9.1f} ms  ratio "
        f"{tick.ratio:.2f}x (target <= {MAX_RATIO}x), {rate:,.0f} events/s "
        f"(target >= {MIN_EVENTS_PER_S:,})"
    )
    print(f"  worker encoding of the list (after):   {tick.encode_ms:9.1f} ms")
    if tick.sdk_ms == tick.sdk_ms:
        print(
            f"  SDK path (generate + send; wall):      {tick.sdk_ms:9.1f} ms  "
            f"{tick.sdk_ms / tick.bind_ms:.1f}x the binding path, "
            f"{tick.events / tick.sdk_ms * 1000:,.0f} events/s"
        )
    return tick.ratio <= MAX_RATIO and rate >= MIN_EVENTS_PER_S


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--sdk-repeat", type=int, default=3, help="0 skips the SDK path")
    args = parser.parse_args(argv)
    ticks = [Tick(*settings_for(size)) for size in SIZES]
    for tick in ticks:
        measure_python(tick, args.repeat)
    if args.sdk_repeat > 0:
        from bms_local.sending import EventHubSink, close_producers
        from bms_local.services import start_emulator_process

        emulator = start_emulator_process()
        sink = EventHubSink(env={"EventHubConnection": emulator.connection_string})
        try:
            for tick in ticks:
                measure_sdk(tick, args.sdk_repeat, sink)
        finally:
            close_producers()
            emulator.stop()
    met = [report(tick) for tick in ticks]
    print("targets met" if all(met) else "targets missed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
