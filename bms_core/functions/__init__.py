"""The Functions' logic, one module per kind of trigger, and what an invocation takes from its
process. ``function_app.py`` wires these; nothing here knows about decorators.

* :mod:`.timers` — ``run_emit_bookings`` / ``run_emit_payments``: the bodies a tick writes to
  its Event Hubs output binding;
* :mod:`.routes` — ``run_burst`` (``POST /api/burst``) and ``run_health`` (``GET /api/health``);
* :mod:`.bursts` — the burst request, its manifest and the manifest store (Table storage);
* :mod:`.settings` — :class:`~.settings.Settings`, the app settings, checked on first use;
* :mod:`.runtime` — the settings, clock and manifest store an invocation uses by default;
* :mod:`.clock`, :mod:`.storage` — the current time, and the host's storage connection setting.

The validator and reconcile handlers live with what they check: :mod:`bms_core.joined.validator`
and :mod:`bms_core.synapse.reconcile`.
"""
