"""Event Hubs emulator throughput, against the SDK's own cost as the baseline.

Publish: the real ``azure-eventhub`` SDK sends ~500-byte events in full (1 MiB) batches to the
emulator, which runs in its own process as it does in use. The baseline, measured in the same run,
is the SDK's own work for the same events with no network: ``create_batch`` + ``add`` (which
encodes every event) + encoding each batch message. The emulator's cost is its process CPU time
over the publish phase; the figure of merit is

    emulator CPU seconds / SDK baseline seconds     (target <= 0.30)

plus both throughputs. Receive: a consumer reads the published events back from the start;
events/s and the emulator's CPU per event are reported.

    .venv/bin/python -m bench.eventhubs [--events 40000] [--size 500]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_RATIO = 0.30
HUB = "bookings"


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start_emulator() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bms_local", "eventhubs", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("eventhubs ready: "):
        raise RuntimeError(f"emulator did not start: {line!r}")
    return process, line.split(": ", 1)[1].strip()


def _bodies(count: int, size: int) -> list[bytes]:
    return [(f"{i:08d}".encode() + b"x" * size)[:size] for i in range(count)]


def _fill(
    producer: object, bodies: list[bytes], start: int, partition_id: str
) -> tuple[object, int]:
    """A full batch from ``bodies[start:]``; returns it and the index after its last event."""
    from azure.eventhub import EventData

    batch = producer.create_batch(partition_id=partition_id)  # type: ignore[attr-defined]
    index = start
    while index < len(bodies):
        try:
            batch.add(EventData(bodies[index]))
        except ValueError:
            break
        index += 1
    return batch, index


def baseline(producer: object, bodies: list[bytes]) -> float:
    """Seconds the SDK spends building and encoding the batches, no network."""
    from azure.eventhub._pyamqp._encode import encode_payload

    started = time.perf_counter()
    index = 0
    while index < len(bodies):
        batch, index = _fill(producer, bodies, index, "1")
        encode_payload(bytearray(), batch._message)  # type: ignore[attr-defined]
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.eventhubs", description=__doc__)
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--size", type=int, default=500)
    args = parser.parse_args(argv)

    from azure.eventhub import EventData, EventHubConsumerClient, EventHubProducerClient

    process, cs = _start_emulator()
    try:
        bodies = _bodies(args.events, args.size)
        producer = EventHubProducerClient.from_connection_string(cs, eventhub_name=HUB)
        producer.send_batch([EventData(b"warm-up")], partition_id="1")  # connection set-up
        sdk_s = baseline(producer, bodies)

        cpu_before = _cpu_seconds(process.pid)
        started = time.perf_counter()
        index, batches = 0, 0
        while index < len(bodies):
            batch, index = _fill(producer, bodies, index, "0")
            producer.send_batch(batch)
            batches += 1
        publish_s = time.perf_counter() - started
        emulator_cpu_s = _cpu_seconds(process.pid) - cpu_before
        producer.close()

        consumer = EventHubConsumerClient.from_connection_string(
            cs, consumer_group="$Default", eventhub_name=HUB
        )
        received = [0]
        done = threading.Event()
        first: list[float] = []

        def on_event(_context: object, event: object) -> None:
            if event is not None:
                if not first:
                    first.append(time.perf_counter())
                received[0] += 1
                if received[0] >= args.events:
                    done.set()

        cpu_before = _cpu_seconds(process.pid)
        worker = threading.Thread(
            target=consumer.receive,
            kwargs={
                "on_event": on_event,
                "partition_id": "0",
                "starting_position": "-1",
                "prefetch": 2000,
            },
            daemon=True,
        )
        worker.start()
        done.wait(600)
        receive_s = time.perf_counter() - first[0] if first else float("nan")
        receive_cpu_s = _cpu_seconds(process.pid) - cpu_before
        consumer.close()
    finally:
        process.terminate()
        process.wait(10)

    ratio = emulator_cpu_s / sdk_s
    n = args.events
    print(f"events: {n} x {args.size} B in {batches} full batches (partition 0)")
    print(f"SDK baseline (build + encode, no network): {sdk_s:.3f} s = {n / sdk_s:,.0f} events/s")
    print(
        f"publish to emulator (SDK wall time):      {publish_s:.3f} s = "
        f"{n / publish_s:,.0f} events/s"
    )
    print(
        f"emulator CPU while publishing:            {emulator_cpu_s:.3f} s = "
        f"{emulator_cpu_s / n * 1e6:.1f} us/event"
    )
    print(f"ratio emulator CPU / SDK baseline:        {ratio:.2f} (target <= {TARGET_RATIO:.2f})")
    print(
        f"receive {received[0]} events (SDK consumer):   {receive_s:.3f} s = "
        f"{received[0] / receive_s:,.0f} events/s"
    )
    print(
        f"emulator CPU while receiving:             {receive_cpu_s:.3f} s = "
        f"{receive_cpu_s / max(received[0], 1) * 1e6:.1f} us/event"
    )
    return 0 if ratio <= TARGET_RATIO and received[0] == n else 1


if __name__ == "__main__":
    sys.exit(main())
