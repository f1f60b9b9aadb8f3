"""Synapse through ODBC: applying ``sql/``, and reconciling what the warehouse holds.

* :mod:`.ddl` — ``apply_scripts``: the DDL batch by batch, to Synapse or (adapted) to SQLite;
* :mod:`.odbc` — ``connect``: pyodbc imported lazily, with errors that say what to install;
* :mod:`.reconcile` — ``run_reconcile``: joined rows per minute against the generator.

Only these modules import pyodbc, and only when called: nothing else needs unixODBC.
"""
