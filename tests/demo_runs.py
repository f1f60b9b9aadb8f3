"""The demo as a user runs it: ``python -m bms_local demo`` at its defaults, twice per session.

Both runs simulate one minute of the default peak hour (plus the payment drain) through the
command line, in child processes, each writing its own ``report.json`` and ``report.html``. In
the first run no process can import pyodbc (as on a machine without unixODBC; a ``pyodbc`` module
that refuses to load comes first on ``PYTHONPATH``, which the demo's own stage processes
inherit): nothing on the demo's path may need it. Tests of reproducibility, of the page and of
the CLI share these runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MINUTES = "1"

_NO_PYODBC = 'raise ImportError("pyodbc is blocked here: the demo must not need it")\n'


@dataclass(frozen=True)
class DemoRun:
    report_dir: Path
    returncode: int
    stdout: str
    stderr: str


def _run(report_dir: Path, odbc: bool) -> DemoRun:
    env = dict(os.environ)
    if not odbc:
        blocked = report_dir.parent / f"{report_dir.name}-no-pyodbc"
        blocked.mkdir(parents=True)
        (blocked / "pyodbc.py").write_text(_NO_PYODBC)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(blocked), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bms_local",
            "demo",
            "--minutes",
            MINUTES,
            "--report-dir",
            str(report_dir),
        ],
        cwd=REPO,
        env=env,
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
