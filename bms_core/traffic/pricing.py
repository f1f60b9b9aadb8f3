"""Ticket prices and convenience fees by event type, venue tier and seat category.

:func:`bms_core.traffic.catalog.catalog` tabulates them once per scenario; money is in paise.
"""

from __future__ import annotations

from typing import Final

from bms_core.money import gst_paise
from bms_core.traffic.scenario import Scenario

BASE_PRICE_PAISE: Final[dict[str, int]] = {
    "Movie": 22_000,
    "Concert": 150_000,
    "Play": 60_000,
    "Sports": 90_000,
    "Comedy": 70_000,
}
"""Silver-seat price at a standard venue, before ``price_scale``."""
CATEGORY_FACTOR: Final[dict[str, float]] = {
    "Recliner": 2.6,
    "Platinum": 1.7,
    "Gold": 1.25,
    "Silver": 1.0,
}
VENUE_TIER_FACTOR: Final = (1.4, 1.15, 1.0, 0.85)
"""Venue 0 of each city and type is premium, venue 3 budget."""


def price_table(
    scenario: Scenario, types: tuple[str, ...], categories: tuple[str, ...]
) -> tuple[tuple[tuple[int, ...], ...], ...]:
    """Seat price (paise) by event type, venue tier and seat category."""
    table = []
    for t in types:
        tiers = []
        for tier_factor in VENUE_TIER_FACTOR:
            row = []
            for c in categories:
                raw = BASE_PRICE_PAISE[t] * CATEGORY_FACTOR[c] * tier_factor * scenario.price_scale
                row.append(max(5_000, round(raw / 1000) * 1000))
            tiers.append(tuple(row))
        table.append(tuple(tiers))
    return tuple(table)


def fee_paise(scenario: Scenario, price_paise: int) -> int:
    """Per-ticket convenience fee: a percent of the price, to the rupee, at least Rs 10."""
    if scenario.convenience_fee_percent <= 0:
        return 0
    basis = round(scenario.convenience_fee_percent * 100)
    return max(1_000, (price_paise * basis + 500_000) // 1_000_000 * 100)


def fee_table(
    scenario: Scenario, prices: tuple[tuple[tuple[int, ...], ...], ...]
) -> tuple[tuple[tuple[tuple[int, int], ...], ...], ...]:
    """``(fee, GST on it)`` per ticket for each price of :func:`price_table`."""
    return tuple(
        tuple(
            tuple((f, gst_paise(f)) for f in (fee_paise(scenario, p) for p in row)) for row in tiers
        )
        for tiers in prices
    )
