"""Same inputs, same bytes: in any process, under any PYTHONHASHSEED."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Hashes everything a timer, a burst and the validator would produce for one scenario.
SCRIPT = """
import hashlib

from bms_core import generator as g
from bms_core.contract import encode
from bms_core.scenario import Scenario
from bms_core.timefmt import parse_iso

s = Scenario(seed=21, duplicate_rate=0.05, malformed_rate=0.05)
start = parse_iso("2026-11-28T14:00:00Z")
h = hashlib.sha256()
for e in g.stream(s, start, 400):
    h.update(repr((e.kind, e.partition_key, e.due_ms, e.event_id)).encode() + e.body)
slot = g.slot_at(s, start)
for e in g.emit_bookings(s, slot) + g.emit_payments(s, start, start + 60_000):
    h.update(e.body)
for e in g.emit_burst(s, "bq2vd7lzm4x", 50, start) + g.emit_burst_payments(
    s, "bq2vd7lzm4x", 50, start, start, start + 900_000
):
    h.update(e.body)
order = g.regenerate(s, g.orders_in(s, slot + 3)[-1].booking.order_id)
h.update(encode(order.booking))
print(h.hexdigest())
"""


def _digest(hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.mark.slow
def test_output_is_byte_identical_across_processes_and_hash_seeds() -> None:
    digests = {_digest(seed) for seed in ("0", "1", "12345", "random")}
    assert len(digests) == 1
    in_process: dict[str, str] = {}
    exec(SCRIPT.replace("print(h.hexdigest())", "out['d'] = h.hexdigest()"), {"out": in_process})
    assert in_process["d"] == digests.pop()
