"""The traffic model and its generator: every order a pure function of ``(seed, order key)``.

Public API (import the modules; this package imports nothing, so cold start stays cheap):

* :mod:`.scenario` — :class:`~.scenario.Scenario`, every knob with its default and range;
* :mod:`.generator` — ``slot_bookings``-style entry points: the bookings of a timer slot, the
  payments due in a window, a burst's events, ``stream`` for the command line;
* :mod:`.orderid` — order ids that say how to regenerate their order;
* :mod:`.payments` — ``schedule``: the one home of an order's payment attempts;
* :mod:`.due_payments` — which attempts fall due in a window (timers and bursts).

The rest (catalog, entropy, orderplan, emission, wire, pools, pricing, plan_events, slots,
segments) are the model's parts, used through the modules above.
"""
