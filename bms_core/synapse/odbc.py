"""ODBC connections (Synapse in Azure, any ODBC driver locally) with pyodbc imported lazily.

``import pyodbc`` fails on a machine without the unixODBC driver manager (``libodbc.so.2``), so
nothing outside the SQL paths imports this module's dependency; the error says what to install.
"""

from __future__ import annotations

from typing import Any


class OdbcUnavailable(RuntimeError):
    """pyodbc, the driver manager or the named driver is missing; the message says the fix."""


def _import_pyodbc() -> Any:
    try:
        import pyodbc  # lazy on purpose: needs the system unixODBC
    except ImportError as exc:
        text = str(exc)
        if "libodbc" in text:
            raise OdbcUnavailable(
                "pyodbc cannot load the unixODBC driver manager (libodbc.so.2). Install it: "
                "Debian/Ubuntu 'apt-get install unixodbc', macOS 'brew install unixodbc'. "
                f"({text})"
            ) from exc
        raise OdbcUnavailable(f"pyodbc is not installed ('pip install pyodbc'): {text}") from exc
    return pyodbc


def connect(connection_string: str, *, autocommit: bool = True, timeout_s: int = 30) -> Any:
    """Open a pyodbc connection; a missing driver names the driver and how to install one."""
    pyodbc = _import_pyodbc()
    try:
        return pyodbc.connect(connection_string, autocommit=autocommit, timeout=timeout_s)
    except pyodbc.Error as exc:
        if "IM002" in str(exc) or "Can't open lib" in str(exc):
            installed = ", ".join(pyodbc.drivers()) or "none"
            raise OdbcUnavailable(
                "the ODBC driver named in the connection string is not installed "
                f"(installed drivers: {installed}). For Synapse install 'ODBC Driver 18 for "
                "SQL Server'; for local tests Debian's 'libsqliteodbc'. "
                f"({exc})"
            ) from exc
        raise


def drivers() -> list[str]:
    """Names of the ODBC drivers the driver manager knows."""
    result: list[str] = _import_pyodbc().drivers()
    return result
