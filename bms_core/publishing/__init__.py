"""Sending generated traffic to Event Hubs from the command line (``python -m bms_core publish``).

* :mod:`.publisher` — :class:`~.publisher.Publisher`: real-time or backfill schedule, keyless
  batches (or keyed by ``order_id``), exact accounting (generated = sent + failed);
* :mod:`.partitioning` — ``partition_for``: the service's key hashing (Jenkins lookup3), so a
  keyed event lands on the same partition index locally as on Azure.

The functions never import this: they write through Event Hubs output bindings.
"""
