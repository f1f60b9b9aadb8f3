"""The joined row: its contract, how the stream job projects it, and how the validator checks it.

* :mod:`.columns` — the column list (one source for the query, the DDL and the code);
* :mod:`.projection` — joined rows exactly as the Stream Analytics query emits them, and the
  join window (``JOIN_WINDOW_MS``, ``in_window``);
* :mod:`.check` — reading a row off the hub and comparing it with the regenerated truth;
* :mod:`.validator` — ``run_validate_joined``: a batch of rows in, findings and a summary out;
  never raises on data.
"""
