"""Timer slots: their bounds, and how many orders each holds.

Time is cut into slots of ``scenario.slot_seconds``. Slot ``s`` holds a Poisson number of timer
orders whose mean follows ``orders_per_minute`` and the IST hour and weekday shape; the count is
a pure function of the seed, the slot and the scenario
(one draw of :mod:`bms_core.traffic.entropy`).
"""

from __future__ import annotations

import math
from functools import lru_cache

from bms_core.traffic import entropy
from bms_core.traffic.catalog import IST_OFFSET_MS, Catalog, catalog
from bms_core.traffic.orderid import MAX_INDEX, TIMER_NAMESPACE
from bms_core.traffic.scenario import Scenario


def slot_bounds(scenario: Scenario, slot: int) -> tuple[int, int]:
    """``[start_ms, end_ms)`` of timer slot ``slot``."""
    width = scenario.slot_seconds * 1000
    return slot * width, (slot + 1) * width


def slot_at(scenario: Scenario, epoch_ms: int) -> int:
    """The slot holding ``epoch_ms``."""
    return epoch_ms // (scenario.slot_seconds * 1000)


@lru_cache(maxsize=8192)
def slot_count(scenario: Scenario, seed: int, slot: int) -> int:
    """How many timer orders slot ``slot`` holds under ``seed`` (bursts' keys carry their own
    seed; :func:`slot_order_count` is the scenario's)."""
    mean = rate_at(catalog(scenario), slot * scenario.slot_seconds * 1000)
    draw = entropy.draws(seed, TIMER_NAMESPACE, slot, 0, entropy.SLOT_SIZE)[0]
    return min(poisson(mean, draw), MAX_INDEX + 1)


def slot_order_count(scenario: Scenario, slot: int) -> int:
    """How many timer orders slot ``slot`` holds (a pure function of seed, slot and shape)."""
    return slot_count(scenario, scenario.seed, slot)


def rate_at(cat: Catalog, epoch_ms: int) -> float:
    """Expected orders in the slot starting at ``epoch_ms`` (IST hour and weekday shape)."""
    ist_hours = (epoch_ms + IST_OFFSET_MS) // 3_600_000
    weekday = (ist_hours // 24 + 3) % 7  # 1970-01-01 was a Thursday (Monday = 0)
    return cat.slot_rate[weekday * 24 + ist_hours % 24]


def poisson(mean: float, draw: int) -> int:
    """A Poisson count with ``mean`` for a uniform 32-bit ``draw`` (normal approx above 40)."""
    u = (draw + 0.5) / entropy.SCALE
    if mean <= 0:
        return 0
    if mean > 40:
        from statistics import NormalDist

        return max(0, round(mean + math.sqrt(mean) * NormalDist().inv_cdf(u)))
    p = math.exp(-mean)
    cumulative = p
    k = 0
    while u > cumulative and k < 400:
        k += 1
        p *= mean / k
        cumulative += p
    return k
