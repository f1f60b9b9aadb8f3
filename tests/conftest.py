"""Shared fixtures. Service fixtures live in their own plugin modules, one service each.

Tests marked ``odbc`` need the unixODBC driver manager and the SQLite ODBC driver, and tests
marked ``chromium`` need Debian's ``chromium``; ``scripts/setup test`` installs them where it can
(as root or through sudo on Debian). Where it could not, they are skipped with the command that
installs them; in CI (``CI`` set) they run and fail instead, so a missing install step can never
pass unnoticed.
"""

from __future__ import annotations

import functools
import os
import shutil

import pytest

pytest_plugins = [
    "tests.services_azurite",
    "tests.services_eventhubs",
    "tests.demo_runs",
]


@functools.cache
def _odbc_missing() -> str | None:
    """Why the ODBC tests cannot run here, or ``None`` when the driver manager and driver load."""
    from bms_core.synapse import odbc

    try:
        installed = odbc.drivers()
    except odbc.OdbcUnavailable as exc:
        return str(exc)
    if "SQLite3" not in installed:
        return f"the SQLite3 ODBC driver is not registered (installed drivers: {installed})"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    if os.environ.get("CI"):
        return
    if item.get_closest_marker("odbc") is not None:
        reason = _odbc_missing()
        if reason:
            pytest.skip(
                f"{reason}; install with 'scripts/setup test' (Debian: apt-get install "
                "unixodbc libsqliteodbc; macOS: brew install unixodbc sqliteodbc)"
            )
    if item.get_closest_marker("chromium") is not None and shutil.which("chromium") is None:
        pytest.skip(
            "no 'chromium' on PATH; install with 'scripts/setup test' "
            "(Debian: apt-get install chromium)"
        )
