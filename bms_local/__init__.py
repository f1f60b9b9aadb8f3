"""bms-stream local parts: Azure imitated on one machine (never deployed).

The Event Hubs emulator, the reference stream job, the SQLite warehouse, the local runner
and the CLI (``python -m bms_local``).
"""
