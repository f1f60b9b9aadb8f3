"""What a scenario implies, precomputed once: cut points, prices, venues, shows, rates, delays.

:func:`catalog` is cached per (hashable, frozen) :class:`~bms_core.traffic.scenario.Scenario`, so
the generator's hot loop only indexes tuples. Show and venue texts come from the Faker pools, which
are built on first use (:func:`bms_core.traffic.pools.pools`).

A catalog costs about :data:`CATALOG_BYTES_PER_CITY` per city of the scenario's mix (a test
measures it), and bursts bring scenarios of their own, so the cache is bounded in bytes
(:data:`CATALOG_CACHE_BYTES`, least recently used first out), not in entries. Nothing in a
catalog depends on the seed, so scenarios that differ only in their seed share one catalog.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from itertools import pairwise
from typing import Final, NamedTuple

import msgspec

from bms_core.joined.columns import IST_OFFSET_MINUTES
from bms_core.names import JOIN_WINDOW_SECONDS
from bms_core.traffic import entropy
from bms_core.traffic.pools import pools
from bms_core.traffic.pricing import fee_table, price_table
from bms_core.traffic.scenario import OUTCOME_NAMES, Mix, Scenario

IST_OFFSET_MS: Final = IST_OFFSET_MINUTES * 60_000
DAY_MS: Final = 86_400_000
VENUES_PER_TYPE: Final = 4
SHOWS_PER_VENUE: Final = 24
CUSTOMERS_PER_CITY: Final = 20_000
assert CUSTOMERS_PER_CITY < 1 << 30  # bms_core.traffic.wire.customer_json relies on it
REGULARS_PER_CITY: Final = 2_000
"""Half of all bookings come from a city's regulars (customers 0..1999),
who book again and again."""
SEATS_PER_ROW: Final = 30
MIN_DELAY_MS: Final = 500
MAX_ON_TIME_DELAY_MS: Final = JOIN_WINDOW_SECONDS * 1000 - 10_000
"""Normal first attempts stay 10 s inside the window; only "late" ones fall outside it."""
LATE_DELAY_MS: Final = (JOIN_WINDOW_SECONDS * 1000 + 1000, 1_200_000)
MIN_RETRY_GAP_MS: Final = 1000
_DELAY_STEPS: Final = 4096

CATEGORY_ROWS: Final[dict[str, str]] = {
    "Silver": "ABCDEF",
    "Gold": "GHJKLM",
    "Platinum": "NOPQ",
    "Recliner": "RS",
}
VENUE_SUFFIXES: Final[dict[str, tuple[str, ...]]] = {
    "Movie": ("Cineplex", "Talkies", "Multiplex", "Cinemas"),
    "Concert": ("Arena", "Grounds", "Amphitheatre", "Convention Centre"),
    "Play": ("Rangmandir", "Auditorium", "Theatre", "Kala Kendra"),
    "Sports": ("Stadium", "Sports Complex", "Cricket Ground", "Indoor Arena"),
    "Comedy": ("Comedy Club", "Studio", "Social", "Laugh House"),
}
SHOW_MINUTES_IST: Final[dict[str, tuple[int, ...]]] = {
    "Movie": (600, 795, 990, 1185, 1350),
    "Concert": (1110, 1200),
    "Play": (1080, 1170),
    "Sports": (930, 1170),
    "Comedy": (1140, 1290),
}
"""Show start times, minutes after IST midnight."""
RIVAL_CITIES: Final = ("Mumbai", "Delhi", "Bengaluru", "Chennai", "Kolkata", "Hyderabad", "Pune")
"""Visiting teams' home cities in sports fixtures."""
DAY_OFFSET_WEIGHTS: Final = (34, 26, 14, 9, 7, 5, 5)
"""How many days ahead of the booking (IST date) the show is."""
FAILURE_REASONS_BY_METHOD: Final[dict[str, tuple[str, ...]]] = {
    "UPI": ("UPI PIN incorrect", "Bank server unavailable", "Insufficient funds", "Timed out"),
    "Credit Card": ("Payment declined", "OTP not entered", "Bank server unavailable"),
    "Debit Card": ("Insufficient funds", "OTP not entered", "Payment declined"),
    "Net Banking": ("Bank server unavailable", "Timed out", "Insufficient funds"),
    "Wallet": ("Insufficient funds", "Timed out", "Payment declined"),
}


class Venue(NamedTuple):
    venue_id: str
    venue_name: str
    tier: int
    show_prefix: str
    """Start of the show's ``event_id``: ``sh-<city>-<type><venue>-``."""
    json_tail: str
    """``"venue_id":...,"venue_name":...,`` as JSON text, for the wire encoder."""
    show_texts: tuple[tuple[str, str], ...] = ()
    """[show] -> (show ``event_id`` up to its start minute, JSON from ``event_name`` to
    ``venue_name``), for the wire encoder."""


class WireMemo(NamedTuple):
    """Texts :mod:`bms_core.traffic.wire` builds on first use and keeps
    (the dicts fill as it runs)."""

    customers: tuple[dict[int, str], ...]
    """[city] -> customer number -> ``"customer":{...},``."""
    seat_tails: dict[tuple[int, int, int, int], tuple[str, str]]
    """(seats, price, category, channel) -> (separator between seats, text after the last)."""
    customer_ends: tuple[tuple[str, str, int], ...]
    """[city] -> (``"customer":{"customer_id":"cu-<slug>-``, ``","city":<city>},``,
    ``key ^ (key >> 30)`` of the city key: the first step of its customers' mix)."""


class Catalog(NamedTuple):
    """Everything derived from one scenario; tuples indexed by the generator."""

    cities: tuple[str, ...]
    city_slugs: tuple[str, ...]
    city_json: tuple[str, ...]
    city_keys: tuple[int, ...]
    """A 64-bit number per city that customers of the city are mixed with."""
    city_cuts: tuple[int, ...]
    types: tuple[str, ...]
    type_cuts: tuple[int, ...]
    categories: tuple[str, ...]
    category_cuts: tuple[int, ...]
    seat_cuts: tuple[int, ...]
    methods: tuple[str, ...]
    method_cuts: tuple[int, ...]
    channels: tuple[str, ...]
    channel_cuts: tuple[int, ...]
    outcome_cuts: tuple[int, ...]
    day_cuts: tuple[int, ...]
    venues: tuple[tuple[tuple[Venue, ...], ...], ...]
    """[city][type] -> venues."""
    show_names: tuple[tuple[tuple[str, ...], ...], ...]
    """[city][type] -> show titles."""
    show_json: tuple[tuple[tuple[str, ...], ...], ...]
    """[city][type][show] -> ``"event_name":...,"event_type":...,"event_location":...,``."""
    tickets: tuple[tuple[tuple[tuple[int, int, int], ...], ...], ...]
    """[type][venue tier][category] -> (seat price, fee, GST on fee) per ticket in paise."""
    show_starts: tuple[tuple[int, ...], ...]
    """[type] -> show start times, ms after IST midnight."""
    category_rows: tuple[str, ...]
    """[category] -> the row letters of that category."""
    delay_steps: tuple[tuple[int, int], ...]
    """The on-time first-attempt delay: ``[draw >> 20]`` -> (quantile ms, rise to the next
    quantile); a draw's delay is ``low + (rise * (draw & 0xFFFFF) >> 20)``."""
    late_cut: int
    """Draws below this make a first attempt late (``late_payment_rate`` of the draw range)."""
    gap_max_ms: int
    """Longest gap between attempts, ms."""
    slot_rate: tuple[float, ...]
    """Expected orders per slot by IST (weekday * 24 + hour), Monday = 0."""
    memo: WireMemo
    """The wire encoder's memo, filled as events are written (the one mutable part)."""


def _split(mix: Mix) -> tuple[tuple[str, ...], tuple[int, ...]]:
    return tuple(k for k, _ in mix), entropy.thresholds([w for _, w in mix])


def json_text(text: str) -> str:
    """``text`` as a JSON string literal, escaped exactly as msgspec does."""
    return msgspec.json.encode(text).decode()


def _city_key(city: str) -> int:
    d = entropy.text_draws(f"city|{city}")
    return d[0] << 32 | d[1]


def _premix(key: int) -> int:
    """The first step of the customer mix that depends on the city key only."""
    return key ^ (key >> 30)


def _slug(city: str) -> str:
    text = "".join(c.lower() if c.isalnum() and c.isascii() else "-" for c in city)
    return "-".join(p for p in text.split("-") if p)[:20] or "city"


CATALOG_BYTES_PER_CITY: Final = 256 * 1024
"""An upper bound of a catalog's size per city of its mix, before its wire memo fills."""
CATALOG_CACHE_BYTES: Final = 96 * 1024 * 1024
"""The most bytes of catalogs kept (by :data:`CATALOG_BYTES_PER_CITY`): the app's scenario and
a couple of bursts with mixes of the largest size."""
_RECENT_SCENARIOS: Final = 64


def catalog_bytes(scenario: Scenario) -> int:
    """The size a catalog of ``scenario`` is accounted at in the cache."""
    return (len(scenario.city_mix) + 2) * CATALOG_BYTES_PER_CITY


class _Cache:
    """Catalogs by seedless scenario within :data:`CATALOG_CACHE_BYTES`, plus a small map from
    the exact scenarios asked for (the hot path: one dict lookup)."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.lock = threading.Lock()
        self.built: OrderedDict[Scenario, tuple[Catalog, int]] = OrderedDict()
        self.recent: dict[Scenario, Catalog] = {}
        self.bytes = 0

    def get(self, scenario: Scenario) -> Catalog:
        found = self.recent.get(scenario)
        if found is not None:
            return found
        key = scenario if scenario.seed == 1 else msgspec.structs.replace(scenario, seed=1)
        with self.lock:
            entry = self.built.get(key)
            if entry is not None:
                self.built.move_to_end(key)
                self._remember(scenario, entry[0])
                return entry[0]
        made = _build(key)
        cost = catalog_bytes(key)
        with self.lock:
            if key not in self.built and cost <= self.budget:
                self.built[key] = (made, cost)
                self.bytes += cost
                while self.bytes > self.budget:
                    _, (old, old_cost) = self.built.popitem(last=False)
                    self.bytes -= old_cost
                    for name in [s for s, c in self.recent.items() if c is old]:
                        del self.recent[name]
                self._remember(scenario, made)
            elif key in self.built:
                made = self.built[key][0]
        return made

    def _remember(self, scenario: Scenario, built: Catalog) -> None:
        if len(self.recent) >= _RECENT_SCENARIOS:
            self.recent.clear()
        self.recent[scenario] = built

    def clear(self) -> None:
        with self.lock:
            self.built.clear()
            self.recent.clear()
            self.bytes = 0


_cache = _Cache(CATALOG_CACHE_BYTES)


def catalog(scenario: Scenario) -> Catalog:
    """The precomputed tables of ``scenario``: built once, kept within the cache's byte budget."""
    return _cache.get(scenario)


def _build(scenario: Scenario) -> Catalog:
    cities, city_cuts = _split(scenario.city_mix)
    types, type_cuts = _split(scenario.event_type_mix)
    categories, category_cuts = _split(scenario.seat_category_mix)
    methods, method_cuts = _split(scenario.payment_method_mix)
    channels, channel_cuts = _split(scenario.channel_mix)
    outcome_weights = dict(scenario.outcome_mix)
    slugs = tuple(_slug(c) for c in cities)
    show_names = tuple(tuple(_show_names(city, t) for t in types) for city in cities)
    show_json = tuple(
        tuple(
            tuple(
                f'"event_name":{json_text(name)},"event_type":{json_text(t)},'
                f'"event_location":{json_text(city)},'
                for name in names
            )
            for t, names in zip(types, by_type, strict=True)
        )
        for city, by_type in zip(cities, show_names, strict=True)
    )
    venues = tuple(
        tuple(
            tuple(
                v._replace(
                    show_texts=tuple(
                        (f"{v.show_prefix}{show:02d}-", text + v.json_tail)
                        for show, text in enumerate(texts)
                    )
                )
                for v in _venues(city, slug, t)
            )
            for t, texts in zip(types, json_by_type, strict=True)
        )
        for city, slug, json_by_type in zip(cities, slugs, show_json, strict=True)
    )
    prices = price_table(scenario, types, categories)
    fees = fee_table(scenario, prices)
    seat_cuts = entropy.thresholds(scenario.seats_per_order_weights)
    outcome_cuts = entropy.thresholds([outcome_weights.get(o, 0.0) for o in OUTCOME_NAMES])
    day_cuts = entropy.thresholds(DAY_OFFSET_WEIGHTS)
    delays = _delay_table(scenario)
    return Catalog(
        cities=cities,
        city_slugs=slugs,
        city_json=tuple(json_text(c) for c in cities),
        city_keys=tuple(_city_key(c) for c in cities),
        city_cuts=city_cuts,
        types=types,
        type_cuts=type_cuts,
        categories=categories,
        category_cuts=category_cuts,
        seat_cuts=seat_cuts,
        methods=methods,
        method_cuts=method_cuts,
        channels=channels,
        channel_cuts=channel_cuts,
        outcome_cuts=outcome_cuts,
        day_cuts=day_cuts,
        venues=venues,
        show_names=show_names,
        show_json=show_json,
        tickets=tuple(
            tuple(
                tuple((p, f, g) for p, (f, g) in zip(p_row, f_row, strict=True))
                for p_row, f_row in zip(p_tiers, f_tiers, strict=True)
            )
            for p_tiers, f_tiers in zip(prices, fees, strict=True)
        ),
        show_starts=tuple(tuple(m * 60_000 for m in SHOW_MINUTES_IST[t]) for t in types),
        category_rows=tuple(CATEGORY_ROWS[c] for c in categories),
        delay_steps=tuple(zip(delays, [b - a for a, b in pairwise(delays)], strict=False)),
        late_cut=entropy.cut(scenario.late_payment_rate),
        gap_max_ms=round(scenario.retry_gap_max_seconds * 1000),
        slot_rate=_slot_rates(scenario),
        memo=WireMemo(
            tuple({} for _ in cities),
            {},
            tuple(
                (
                    f'"customer":{{"customer_id":"cu-{slug}-',
                    f'","city":{json_text(city)}}},',
                    _premix(_city_key(city)),
                )
                for city, slug in zip(cities, slugs, strict=True)
            ),
        ),
    )


def _venues(city: str, slug: str, event_type: str) -> tuple[Venue, ...]:
    stems = pools().venue_stems
    out = []
    code = event_type[0].lower() if event_type != "Comedy" else "k"
    for v in range(VENUES_PER_TYPE):
        d = entropy.text_draws(f"venue|{city}|{event_type}|{v}")
        stem = stems[d[0] % len(stems)]
        suffix = VENUE_SUFFIXES[event_type][v]
        venue_id = f"ve-{slug}-{code}{v}"
        name = f"{stem} {suffix} {city}"
        tail = f'"venue_id":{json_text(venue_id)},"venue_name":{json_text(name)},'
        out.append(Venue(venue_id, name, v, f"sh-{slug}-{code}{v}-", tail))
    return tuple(out)


def _show_names(city: str, event_type: str) -> tuple[str, ...]:
    p = pools()
    names = []
    for s in range(SHOWS_PER_VENUE):
        d = entropy.text_draws(f"show|{city}|{event_type}|{s}")
        if event_type == "Movie":
            name = p.titles[(s * 17 + 3) % len(p.titles)]
        elif event_type == "Concert":
            name = f"{p.artists[(s * 7) % len(p.artists)]} Live"
        elif event_type == "Play":
            name = f"{p.titles[(s * 13 + 101) % len(p.titles)]} (Play)"
        elif event_type == "Sports":
            league = p.leagues[d[0] % len(p.leagues)]
            rivals = [c for c in RIVAL_CITIES if c != city]
            rival = rivals[d[3] % len(rivals)]
            home = p.mascots[d[1] % len(p.mascots)]
            away = p.mascots[(d[1] + 1 + d[2] % (len(p.mascots) - 1)) % len(p.mascots)]
            name = f"{league}: {city} {home} vs {rival} {away}"
        else:
            name = f"{p.artists[(s * 11 + 150) % len(p.artists)]}: Stand-up Live"
        names.append(name[:200])
    return tuple(names)


def _delay_table(scenario: Scenario) -> tuple[int, ...]:
    median = scenario.payment_delay_median_seconds * 1000
    sigma = scenario.payment_delay_spread
    from statistics import NormalDist

    normal = NormalDist()
    out = []
    for i in range(_DELAY_STEPS + 1):
        p = min(max(i / _DELAY_STEPS, 1e-9), 1 - 1e-9)
        value = median * math.exp(sigma * normal.inv_cdf(p))
        out.append(int(min(max(value, MIN_DELAY_MS), MAX_ON_TIME_DELAY_MS)))
    return tuple(out)


def _slot_rates(scenario: Scenario) -> tuple[float, ...]:
    hours = scenario.hourly_shape
    days = scenario.weekday_shape
    hour_mean = sum(hours) / 24
    day_mean = sum(days) / 7
    per_slot = scenario.orders_per_minute * scenario.slot_seconds / 60
    return tuple(
        per_slot * (days[d] / day_mean) * (hours[h] / hour_mean)
        for d in range(7)
        for h in range(24)
    )
