"""Event times: UTC ISO-8601 with millisecond precision and a ``Z``, held as epoch milliseconds.

Everything inside bms-stream computes with integer epoch milliseconds (exact, cheap to compare);
only the wire format is a string. ``format_ms`` is on the generator's hot path, so it caches the
date-and-hour prefix.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from functools import lru_cache
from typing import Final

from bms_core.contract import EVENT_TIME_PATTERN

_PATTERN: Final = re.compile(EVENT_TIME_PATTERN)
MS_PER_S: Final = 1000
MS_PER_HOUR: Final = 3_600_000


@lru_cache(maxsize=4096)
def _hour_prefix(hour_index: int) -> str:
    return datetime.fromtimestamp(hour_index * 3600, tz=timezone.utc).strftime("%Y-%m-%dT%H:")


def format_ms(epoch_ms: int) -> str:
    """``1764441005123`` -> ``'2025-11-29T18:30:05.123Z'``."""
    hour, rest = divmod(epoch_ms, MS_PER_HOUR)
    minute, rest = divmod(rest, 60_000)
    second, milli = divmod(rest, 1000)
    return f"{_hour_prefix(hour)}{minute:02d}:{second:02d}.{milli:03d}Z"


def parse_ms(text: str) -> int:
    """Strict inverse of :func:`format_ms`; raises ``ValueError`` on any other shape."""
    if not _PATTERN.match(text):
        raise ValueError(f"not a UTC millisecond ISO-8601 time ending in Z: {text!r}")
    dt = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return int(dt.timestamp()) * 1000 + dt.microsecond // 1000


def parse_iso(text: str) -> int:
    """Lenient parse for user input (CLI flags): any ISO-8601 with an offset, or naive as UTC."""
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not an ISO-8601 time: {text!r}") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)


def to_datetime(epoch_ms: int) -> datetime:
    """Aware UTC datetime for epoch milliseconds."""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)


def from_datetime(dt: datetime) -> int:
    """Epoch milliseconds for an aware datetime (naive is taken as UTC)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)
