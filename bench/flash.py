"""A flash sale locally: ``POST /api/burst`` of N orders, fanned out over worker processes.

For each worker count asked (``--workers 1 2``), on fresh Azurite and a fresh Event Hubs
emulator (a child process), with the queue settings of ``host.json``:

* the 202's latency (the handler as the HTTP route runs it: manifest, progress header, the top
  of the fan-out tree on Azurite's queue), on the process's first POST (its storage clients and
  the queue and tables are created then) and on a second one;
* seconds from the POST to the last booking on the ``bookings`` hub (the sum of the hub's
  partitions' sequence numbers reaches the bookings the chunks reported sending);
* booking events per second over that time, and the ratio of each worker count to the first;
* CPU seconds spent meanwhile by Azurite, the emulator and the worker processes (with this
  process), to show which of them bounds the run on this machine.

Workers start (and import the app) before the POST, as warm instances would be. Payment windows
are scheduled by the chunks as usual but come due later than the run lasts; they are not timed.

    .venv/bin/python -m bench.flash --orders 1000000 --workers 1 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _hub_events(connection: str, hub: str) -> int:
    from azure.eventhub import EventHubProducerClient

    with EventHubProducerClient.from_connection_string(connection, eventhub_name=hub) as client:
        total = 0
        for partition in client.get_partition_ids():
            props = client.get_partition_properties(partition)
            if not props["is_empty"]:
                total += props["last_enqueued_sequence_number"] + 1
        return total


def _cpu_seconds(root: int) -> float:
    """User + system CPU seconds of process ``root`` and its descendants (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo += [child for child, parent in parents.items() if parent == pid]
    return total


def run_once(orders: int, workers: int, chunk_orders: int) -> dict[str, Any]:
    from bms_core.functions.settings import DEFAULTS
    from bms_local.azurite import start_azurite
    from bms_local.host import LocalHost
    from bms_local.queues import start_workers
    from bms_local.services import start_emulator_process

    scratch = Path(tempfile.mkdtemp(prefix="bms-bench-flash-"))
    azurite = start_azurite(scratch / "azurite", blob_port=0, queue_port=0, table_port=0)
    emulator = start_emulator_process(data_dir=scratch / "eventhubs")
    running = None
    try:
        env = {
            **DEFAULTS,
            "AzureWebJobsStorage": azurite.connection_string,
            "EventHubConnection": emulator.connection_string,
            "BMS_BURST_CHUNK_ORDERS": str(chunk_orders),
            "BMS_BURST_MAX_ORDERS": str(max(orders, 1)),
        }
        running = start_workers(env, workers)
        host = LocalHost(env=env)
        host.http("health", method="GET")  # index and import before timing
        time.sleep(8)  # workers import the app and start polling
        body = json.dumps({"orders": orders}).encode()
        parts = {
            "azurite": azurite.process.pid,
            "emulator": emulator.process.pid,
            "workers": os.getpid(),
        }
        cpu_before = {name: _cpu_seconds(pid) for name, pid in parts.items()}
        posted = time.monotonic()
        response = host.http("burst", method="POST", body=body).result
        answered = time.monotonic()
        if response.status_code != 202:
            raise RuntimeError(f"burst answered {response.status_code}: {response.get_body()!r}")
        answer = json.loads(response.get_body())
        match = host.match_route(f"burst/{answer['burst_id']}")
        assert match is not None
        sent = None
        while True:
            time.sleep(0.5)
            status = json.loads(
                host.http(match[0], method="GET", route_params=match[1]).result.get_body()
            )
            if status["chunks"]["failed"]:
                raise RuntimeError(f"chunks failed: {status['chunks']}")
            if status["chunks"]["done"] == status["chunks"]["total"]:
                sent = status["bookings_sent"]
                break
        while _hub_events(emulator.connection_string, "bookings") < sent:
            time.sleep(0.2)
        last = time.monotonic()
        cpu = {name: _cpu_seconds(pid) - cpu_before[name] for name, pid in parts.items()}
        cpu["workers"] -= cpu["azurite"] + cpu["emulator"]  # this process's other children
        # The same route again on warm clients (queue and tables exist): a one-order flash sale.
        again = time.monotonic()
        warm = host.http("burst", method="POST", body=b'{"orders": 1, "over_seconds": 1}')
        warm_ms = (time.monotonic() - again) * 1000
        if warm.result.status_code != 202:
            raise RuntimeError(f"second burst answered {warm.result.status_code}")
        return {
            "orders": orders,
            "workers": workers,
            "chunks": answer["chunks"],
            "accepted_ms": (answered - posted) * 1000,
            "warm_accepted_ms": warm_ms,
            "cpu": cpu,
            "to_last_booking_s": last - posted,
            "booking_events": sent,
            "events_per_s": sent / (last - posted),
        }
    finally:
        if running is not None:
            running.stop()
        emulator.stop()
        azurite.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.flash", description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--chunk-orders", type=int, default=5000)
    args = parser.parse_args(argv)
    if args.orders < 1 or any(w < 1 for w in args.workers):
        parser.error("--orders and --workers must be at least 1")
    results = [run_once(args.orders, w, args.chunk_orders) for w in args.workers]
    base = results[0]["events_per_s"]
    print(
        f"flash sale: {args.orders:,} orders in chunks of {args.chunk_orders:,} "
        f"({results[0]['chunks']} chunks), {os.cpu_count()} cores"
    )
    print(
        "workers | 202 latency (first, warm) | POST -> last booking | booking events | "
        "events/s | ratio"
    )
    for r in results:
        print(
            f"{r['workers']:7d} | {r['accepted_ms']:6.0f} ms, {r['warm_accepted_ms']:4.0f} ms"
            f" | {r['to_last_booking_s']:17.1f} s"
            f" | {r['booking_events']:14,d} | {r['events_per_s']:8,.0f} | "
            f"{r['events_per_s'] / base:.2f}x"
        )
    for r in results:
        spent = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in r["cpu"].items())
        wall = r["to_last_booking_s"]
        print(f"CPU seconds with {r['workers']} worker(s): {spent} (in {wall:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
