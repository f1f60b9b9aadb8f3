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
