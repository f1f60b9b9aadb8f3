"""Parallel generation: segments joined in order are byte-identical to the serial stream."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bms_core.timefmt import parse_iso
from bms_core.traffic import generator as g
from bms_core.traffic.scenario import Scenario
from bms_core.traffic.segments import segment_bytes, split, stream_spans

ROOT = Path(__file__).resolve().parents[2]
START = "2026-11-28T14:00:03.500Z"


@pytest.mark.parametrize(
    ("orders", "parts", "overrides"),
    [
        (3000, 2, {}),
        (2500, 5, {"duplicate_rate": 0.2, "malformed_rate": 0.1}),
        (40, 7, {"slot_seconds": 1}),
    ],
)
def test_segments_in_order_equal_the_serial_stream(
    orders: int, parts: int, overrides: dict[str, object]
) -> None:
    scenario = Scenario(seed=11).with_overrides(overrides)
    start = parse_iso(START)
    expected = b"".join(e.body + b"\n" for e in g.stream(scenario, start, orders))
    segments = split(scenario, stream_spans(scenario, start, orders), parts)
    outputs = [segment_bytes(scenario, start, s) for s in segments]
    assert len(segments) > 1
    assert b"".join(o.data for o in outputs) == expected
    assert sum(sum(o.outcomes) for o in outputs) == orders


def test_cli_workers_write_the_same_bytes_as_one_process() -> None:
    def run(workers: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [
                *(sys.executable, "-m", "bms_core", "generate", "--orders", "4000"),
                *("--seed", "3", "--start", START, "--duplicate-rate", "0.1"),
                *("--workers", workers),
            ],
            cwd=ROOT,
            capture_output=True,
            env=dict(os.environ),
            check=True,
        )

    one, two = run("1"), run("2")
    assert one.stdout == two.stdout
    assert one.stderr.splitlines()[:2] == two.stderr.splitlines()[:2]


def test_cli_rejects_zero_workers() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bms_core", "generate", "--orders", "5", "--workers", "0"],
        cwd=ROOT,
        capture_output=True,
    )
    assert done.returncode == 2
    assert b"--workers" in done.stderr
