"""The Python reference implementation of the Stream Analytics job (``asa/bms_join.asaql``).

Public API: :class:`StreamJob` fed with :class:`Arrival` s returns :class:`JoinedPair` s whose
``seat_rows()`` / ``order_row()`` are the query's outputs; :mod:`.sources` reads arrivals from
iterables, JSONL files or Event Hubs; :mod:`.job` maps the query's clauses to the code.
"""

from bms_local.stream_job.job import StreamJob
from bms_local.stream_job.policy import OrderingPolicy
from bms_local.stream_job.records import Arrival, JoinedPair, Reject

__all__ = ["Arrival", "JoinedPair", "OrderingPolicy", "Reject", "StreamJob"]
