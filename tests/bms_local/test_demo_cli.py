"""The demo command refuses bad options with one clear line, before starting anything."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bms_local.report import TIMING_FIELDS
from tests.demo_runs import DemoRun

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--start", "yesterday"], "--start"),
        (["--minutes", "0"], "--minutes"),
        (["--sample-rate", "1.5"], "--sample-rate"),
    ],
)
def test_bad_option_is_named(args: list[str], fragment: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bms_local", "demo", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.eventhubs
@pytest.mark.azurite
def test_demo_runs_without_odbc(default_demo_runs: tuple[DemoRun, DemoRun]) -> None:
    """``make demo`` must work on a machine without unixODBC: nothing on its path imports pyodbc
    (in the first run any import of it fails, as it does where ``libodbc.so.2`` is missing)."""
    run = default_demo_runs[0]
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Validator verdict: clean" in run.stdout
    assert (run.report_dir / "report.json").is_file()


@pytest.mark.slow
@pytest.mark.eventhubs
@pytest.mark.azurite
def test_default_runs_give_the_same_report(default_demo_runs: tuple[DemoRun, DemoRun]) -> None:
    """Two runs at the default start and seed: the same report.json apart from wall-clock time."""
    reports = []
    for run in default_demo_runs:
        assert run.returncode == 0, run.stderr[-2000:]
        report = json.loads((run.report_dir / "report.json").read_text())
        for key in TIMING_FIELDS:
            report.pop(key)
        reports.append(report)
    first, second = reports
    assert first == second
    assert first["start"] == "2026-12-04T13:30:00.000Z"  # Friday 19:00 IST
    assert first["counts"]["orders"] > 1000  # a peak minute, burst included
