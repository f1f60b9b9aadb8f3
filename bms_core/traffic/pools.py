"""Realistic Indian names, phones, venues and show titles, built once with Faker (``en_IN``).

Faker is slow per call and heavy to import, so it never runs per event: the first call to
:func:`pools` imports it, builds every pool from a fixed Faker seed (:data:`POOL_SEED`) and
keeps the result for the life of the process. Events then pick pool entries by index, which
keeps generation deterministic and fast. The pools depend only on the Faker version, never on
the scenario; the scenario's seed decides which entries an order uses.

Emails are on reserved example domains only (RFC 2606), phones are Indian mobile numbers
(``+91`` then 6-9 then nine digits).
"""

from __future__ import annotations

import threading
from typing import Final, NamedTuple

POOL_SEED: Final = 20_261_129
EMAIL_DOMAINS: Final = ("example.com", "example.net", "example.org")

_TITLE_WORDS: Final = (
    "Monsoon", "Midnight", "Golden", "Silent", "Brave", "Lost", "Wild", "Crimson", "Hidden",
    "Broken", "Rising", "Last", "Endless", "Secret", "Burning", "Distant", "Electric", "Paper",
)  # fmt: skip
_TITLE_NOUNS: Final = (
    "Highway", "Kingdom", "Promise", "Horizon", "Express", "Monsoon", "Letters", "Empire",
    "Festival", "Tiger", "River", "Dreams", "Station", "Frontier", "Mirage", "Carnival",
    "Harbour", "Legacy", "Storm", "Raja", "Mohalla", "Chase",
)  # fmt: skip
_MASCOTS: Final = (
    "Titans", "Warriors", "Kings", "Strikers", "Chargers", "Royals", "Panthers", "Falcons",
    "Blasters", "Smashers", "Tuskers", "Spartans",
)  # fmt: skip
_LEAGUES: Final = ("T20", "Pro Kabaddi", "Football League", "Badminton League", "Hockey League")


class Pools(NamedTuple):
    """Immutable pools; every entry is printable ASCII that needs no JSON escaping."""

    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    phones: tuple[str, ...]
    venue_stems: tuple[str, ...]
    artists: tuple[str, ...]
    titles: tuple[str, ...]
    mascots: tuple[str, ...]
    leagues: tuple[str, ...]


_lock = threading.Lock()
_built: Pools | None = None


def pools() -> Pools:
    """The process-wide pools, built on first use (imports Faker then, and only then)."""
    global _built
    if _built is None:
        with _lock:
            if _built is None:
                _built = build_pools()
    return _built


def json_safe(text: str) -> bool:
    """Printable ASCII without quotes or backslashes: its JSON literal is just ``"text"``."""
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def _unique(draw: object, want: int, attempts: int) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for _ in range(attempts):
        value = draw()  # type: ignore[operator]
        if isinstance(value, str) and json_safe(value) and value.strip() == value and value:
            seen.setdefault(value, None)
            if len(seen) >= want:
                break
    return tuple(seen)


def build_pools() -> Pools:
    """Build all pools from scratch with Faker ``en_IN`` seeded with :data:`POOL_SEED`."""
    from faker import Faker

    fake = Faker("en_IN")
    fake.seed_instance(POOL_SEED)
    first = _unique(fake.first_name, 400, 8000)
    last = _unique(fake.last_name, 300, 8000)
    phones = tuple(
        "+91" + fake.random_element("6789") + fake.numerify("#########") for _ in range(4096)
    )
    stems = _unique(fake.last_name, 120, 8000)
    artists = _unique(fake.name, 300, 3000)
    titles = tuple(f"{a} {n}" for a in _TITLE_WORDS for n in _TITLE_NOUNS if a != n)
    return Pools(
        first_names=first,
        last_names=last,
        phones=phones,
        venue_stems=stems,
        artists=artists,
        titles=titles,
        mascots=_MASCOTS,
        leagues=_LEAGUES,
    )
