"""NCRONTAB schedules as the Functions timer trigger reads them (six fields, seconds first).

``{second} {minute} {hour} {day} {month} {day-of-week}``; each field is ``*``, a number, a
range ``a-b``, a list ``a,b``, or a step ``*/n`` / ``a-b/n``. Day-of-week counts 0 = Sunday.
Only what the local runner needs: parse once, then ask for the next occurrence after a moment.
Times are UTC epoch milliseconds (Azure's default WEBSITE_TIME_ZONE is UTC).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

_FIELDS = (
    ("second", 0, 59),
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 6),
)


def _parse_field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) < 1:
                raise ValueError(f"schedule {name} field: bad step {step_text!r}")
            step = int(step_text)
        if part == "*":
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            if not (a.isdigit() and b.isdigit()):
                raise ValueError(f"schedule {name} field: bad range {part!r}")
            start, end = int(a), int(b)
        elif part.isdigit():
            start = end = int(part)
            if step > 1:
                end = high
        else:
            raise ValueError(f"schedule {name} field: {part!r} is not a number, range or *")
        if not (low <= start <= high and low <= end <= high and start <= end):
            raise ValueError(f"schedule {name} field: {part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Schedule:
    """A parsed six-field NCRONTAB expression."""

    text: str
    fields: tuple[frozenset[int], ...]

    def matches(self, moment: datetime) -> bool:
        second, minute, hour, day, month, dow = self.fields
        return (
            moment.second in second
            and moment.minute in minute
            and moment.hour in hour
            and moment.day in day
            and moment.month in month
            and (moment.isoweekday() % 7) in dow
        )

    def next_after(self, epoch_ms: int) -> int:
        """The first occurrence strictly after ``epoch_ms`` (searched up to a year ahead)."""
        moment = datetime.fromtimestamp(epoch_ms // 1000, tz=timezone.utc) + timedelta(seconds=1)
        second, minute, hour = self.fields[0], self.fields[1], self.fields[2]
        limit = moment + timedelta(days=366)
        while moment < limit:
            if not (
                moment.day in self.fields[3]
                and moment.month in self.fields[4]
                and (moment.isoweekday() % 7) in self.fields[5]
            ):
                moment = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0)
                continue
            if moment.hour not in hour:
                moment = (moment + timedelta(hours=1)).replace(minute=0, second=0)
                continue
            if moment.minute not in minute:
                moment = (moment + timedelta(minutes=1)).replace(second=0)
                continue
            if moment.second not in second:
                moment += timedelta(seconds=1)
                continue
            return int(moment.timestamp()) * 1000
        raise ValueError(f"schedule {self.text!r} has no occurrence within a year")


def parse_schedule(text: str) -> Schedule:
    """Parse ``"*/10 * * * * *"``; errors name the field at fault."""
    parts = text.split()
    if len(parts) != 6:
        raise ValueError(
            f"schedule {text!r} must have six fields (second minute hour day month "
            f"day-of-week), got {len(parts)}"
        )
    fields = tuple(
        _parse_field(part, name, low, high)
        for part, (name, low, high) in zip(parts, _FIELDS, strict=True)
    )
    return Schedule(text, fields)
