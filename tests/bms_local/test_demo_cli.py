"""The demo command refuses bad options with one clear line, before starting anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
def test_demo_runs_without_odbc(tmp_path: Path) -> None:
    """``make demo`` must work on a machine without unixODBC: nothing on its path imports pyodbc
    (here any import of it fails, as it does where ``libodbc.so.2`` is missing)."""
    program = (
        "import runpy, sys\n"
        "sys.modules['pyodbc'] = None\n"
        "sys.argv = ['bms_local', 'demo', '--minutes', '1', '--report-dir', sys.argv[1]]\n"
        "runpy.run_module('bms_local', run_name='__main__')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program, str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Validator verdict: clean" in result.stdout
    assert (tmp_path / "report.json").is_file()
