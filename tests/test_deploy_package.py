"""What ``func azure functionapp publish`` uploads works on its own.

The package is the repository minus ``.funcignore`` (gitignore-style patterns). Copied alone into
an empty folder, without ``bms_local``, tests or benchmarks, the app must index and its emitting
handler must run, the way the Python worker would run it in Azure.
"""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _ignored(path: str, patterns: list[str]) -> bool:
    parts = path.split("/")
    for pattern in patterns:
        if pattern.endswith("/"):
            name = pattern.rstrip("/")
            if any(fnmatch.fnmatch(part, name) for part in parts[:-1]):
                return True
        elif any(fnmatch.fnmatch(part, pattern) for part in parts) or fnmatch.fnmatch(
            path, pattern
        ):
            return True
    return False


def package_files() -> list[str]:
    patterns = [
        line.strip()
        for line in (REPO / ".funcignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    return [path for path in tracked if not _ignored(path, patterns)]


def test_package_holds_the_app_and_nothing_local() -> None:
    files = package_files()
    assert {"function_app.py", "host.json", "requirements.txt"} <= set(files)
    assert any(f.startswith("bms_core/") for f in files)
    for local in (
        "bms_local/",
        "tests/",
        "bench/",
        "node_modules/",
        "asa/",
        "local.settings",
        "scripts/",
        "infra/",
        "docs/",
    ):
        assert not any(f.startswith(local) for f in files), local


def test_package_alone_indexes_and_runs_a_handler(tmp_path: Path) -> None:
    for path in package_files():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / path, target)
    script = textwrap.dedent(
        """
        import os, sys
        repo = os.environ["BMS_TEST_REPO"]
        sys.path = [p for p in sys.path if not (p.startswith(repo) and "site-packages" not in p)]
        import function_app
        import azure.functions as func
        from azure.functions.timer import TimerRequest
        from bms_core.functions.clock import now_ms
        from bms_core.timefmt import format_ms

        class Out(func.Out):
            def set(self, val):
                self.value = val

            def get(self):
                return self.value

        names = sorted(f.get_function_name() for f in function_app.app.get_functions())
        bookings = Out()
        last = format_ms(now_ms() - 60_000)  # a tick that last ran a minute ago
        function_app.emit_bookings(TimerRequest(schedule_status={"Last": last}), bookings)
        assert "bms_local" not in sys.modules
        assert "azure.eventhub" not in sys.modules  # the host sends; Python only hands over
        assert all(isinstance(body, str) for body in bookings.value)
        print(",".join(names), len(bookings.value))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "BMS_ORDERS_PER_MINUTE": "600", "BMS_TEST_REPO": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    names, bookings = result.stdout.split()
    assert names == (
        "burst,burst_chunk_poisoned,burst_status,emit_bookings,emit_burst_chunk,emit_payments,"
        "health,reconcile,validate_joined"
    )
    assert int(bookings) > 0
