"""The local runner fires timers when the Functions host would."""

from __future__ import annotations

import pytest

from bms_core.timefmt import format_ms, parse_ms
from bms_local.ncrontab import parse_schedule


def _next(schedule: str, at: str) -> str:
    return format_ms(parse_schedule(schedule).next_after(parse_ms(at)))


def test_every_ten_seconds() -> None:
    assert _next("*/10 * * * * *", "2026-11-29T10:00:00.000Z") == "2026-11-29T10:00:10.000Z"
    assert _next("*/10 * * * * *", "2026-11-29T10:00:07.500Z") == "2026-11-29T10:00:10.000Z"
    assert _next("*/10 * * * * *", "2026-11-29T10:00:59.999Z") == "2026-11-29T10:01:00.000Z"


def test_hourly_at_minute_five() -> None:
    assert _next("0 5 * * * *", "2026-11-29T10:05:00.000Z") == "2026-11-29T11:05:00.000Z"


def test_weekday_and_lists() -> None:
    # 2026-11-29 is a Sunday; "1-5" is Monday to Friday.
    assert _next("0 30 9,17 * * 1-5", "2026-11-29T10:00:00.000Z") == "2026-11-30T09:30:00.000Z"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("* * * * *", "six fields"),
        ("*/0 * * * * *", "second field"),
        ("0 61 * * * *", "minute field"),
        ("0 0 x * * *", "hour field"),
    ],
)
def test_bad_schedules_name_the_field(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_schedule(text)
