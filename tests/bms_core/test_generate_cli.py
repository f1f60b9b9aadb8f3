"""``python -m bms_core generate``: JSON lines, byte-identical with fixed seed and start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bms_core.timefmt import parse_iso
from bms_core.traffic import generator as g
from bms_core.traffic.scenario import Scenario

ROOT = Path(__file__).resolve().parents[2]
START = "2026-11-28T14:00:00Z"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bms_core", "generate", *args],
        cwd=ROOT,
        capture_output=True,
        env={**os.environ, **(env or {})},
    )


def test_fixed_seed_and_start_give_identical_bytes_and_match_the_library(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    first = _run("--orders", "300", "--seed", "9", "--start", START, "--out", str(out))
    second = _run("--orders", "300", "--seed", "9", "--start", START)
    assert first.returncode == second.returncode == 0
    assert out.read_bytes() == second.stdout
    expected = [e.body for e in g.stream(Scenario(seed=9), parse_iso(START), 300)]
    assert second.stdout.splitlines() == expected
    lines = [json.loads(line) for line in second.stdout.splitlines()]
    assert len({x["order_id"] for x in lines}) == 300
    assert {x["kind"] for x in lines} == {"booking", "payment"}


def test_summary_reports_outcomes_events_and_bytes(tmp_path: Path) -> None:
    out = tmp_path / "e.jsonl"
    done = _run("--orders", "200", "--seed", "3", "--start", START, "--out", str(out))
    summary = done.stderr.decode()
    assert "orders 200 (paid_first_try" in summary
    for outcome in g.OUTCOMES:
        assert outcome in summary
    lines = out.read_bytes().count(b"\n")
    assert f"events {lines} (" in summary
    assert f"bytes {out.stat().st_size};" in summary
    assert "\r[" not in summary  # no progress bar when stderr is not a terminal


def test_progress_flag_draws_the_bar() -> None:
    done = _run("--orders", "50", "--start", START, "--progress")
    assert "\r[" in done.stderr.decode()
    assert "50/50 orders" in done.stderr.decode()


def test_scenario_flags_and_settings_apply_flags_winning() -> None:
    base = _run("--orders", "100", "--seed", "5", "--start", START)
    from_env = _run("--orders", "100", "--start", START, env={"BMS_SEED": "5"})
    flag_wins = _run("--orders", "100", "--seed", "5", "--start", START, env={"BMS_SEED": "6"})
    assert base.stdout == from_env.stdout == flag_wins.stdout
    dup = _run("--orders", "100", "--seed", "5", "--start", START, "--duplicate-rate", "0.5")
    assert len(dup.stdout.splitlines()) > len(base.stdout.splitlines())


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--orders", "0"], {}, "--orders must be an integer >= 1"),
        (
            ["--orders", "5", "--malformed-rate", "0.9"],
            {},
            "--malformed-rate: must be a number in 0 .. 0.5",
        ),
        (
            ["--orders", "5"],
            {"BMS_SLOT_SECONDS": "0"},
            "BMS_SLOT_SECONDS: must be an integer in 1 .. 3600",
        ),
        (["--orders", "5", "--start", "yesterday"], {}, "--start: not an ISO-8601 time"),
        (["--orders", "5", "--out", "/nonexistent/dir/x.jsonl"], {}, "--out:"),
    ],
)
def test_bad_input_exits_2_naming_the_flag_or_setting(
    args: list[str], env: dict[str, str], message: str
) -> None:
    done = _run(*args, env=env)
    assert done.returncode == 2
    assert message in done.stderr.decode()
