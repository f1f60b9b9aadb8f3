"""The demo as a user runs it: ``python -m bms_local demo`` at its defaults, twice per session.

Both runs simulate one minute of the default peak hour (plus the payment drain) through the
command line, in child processes, each writing its own ``report.json`` and ``report.html``. The
first run cannot import pyodbc (as on a machine without unixODBC): nothing on the demo's path may
need it. Tests of reproducibility, of the page and of the CLI share these runs.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MINUTES = "1"

_PROGRAM = (
    "import runpy, sys\n"
    "if sys.argv[2] == 'no-odbc':\n"
    "    sys.modules['pyodbc'] = None\n"
    "sys.argv = ['bms_local', 'demo', '--minutes', sys.argv[3], '--report-dir', sys.argv[1]]\n"
    "runpy.run_module('bms_local', run_name='__main__')\n"
)


@dataclass(frozen=True)
class DemoRun:
    report_dir: Path
    returncode: int
    stdout: str
    stderr: str


def _run(report_dir: Path, odbc: bool) -> DemoRun:
    result = subprocess.run(
        [sys.executable, "-c", _PROGRAM, str(report_dir), "odbc" if odbc else "no-odbc", MINUTES],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return DemoRun(report_dir, result.returncode, result.stdout, result.stderr)


@pytest.fixture(scope="session")
def default_demo_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoRun, DemoRun]:
    """Two runs of ``demo --minutes 1`` with every other option at its default."""
    base = tmp_path_factory.mktemp("demo-default")
    return _run(base / "first", odbc=False), _run(base / "second", odbc=True)
