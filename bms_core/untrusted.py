"""Reading what a client or a hub sent, at a cost bounded before the work starts.

* :func:`excerpt`: error messages and findings name the value at fault without echoing it
  whole: a 5 MB string, a 4,000-digit integer or a list nested a thousand deep become a few
  dozen ASCII characters, at a cost that does not grow with the value.
* :func:`parse_json_int`: JSON numbers with more digits than any field accepts are kept as
  :class:`LongNumber` by the parsers (never turned into an ``int``), so no check ever converts
  or prints a huge integer.
* :func:`nested_deeper_than`: how deep JSON text nests, found with one scan before parsing.
"""

from __future__ import annotations

import re
from typing import Any, Final

EXCERPT_CHARS: Final = 40
"""The most characters of a bad value an error message or a finding quotes."""
MAX_INT_DIGITS: Final = 30
"""JSON integers with more digits than this are not converted (:func:`parse_json_int`)."""


class LongNumber:
    """A JSON integer too long to convert: its first digits and its length, nothing more."""

    __slots__ = ("digits", "prefix")

    def __init__(self, text: str) -> None:
        self.prefix = text[:12]
        self.digits = len(text.lstrip("-"))

    def __repr__(self) -> str:
        return f"{self.prefix}... ({self.digits} digits)"


def parse_json_int(text: str) -> int | LongNumber:
    """``json.loads(..., parse_int=parse_json_int)``: an ``int``, or a :class:`LongNumber`."""
    if len(text) > MAX_INT_DIGITS + 1:
        return LongNumber(text)
    return int(text)


_STRING_OR_BRACKET: Final = re.compile(r'"(?:[^"\\]|\\.)*"|([\[\]{}])', re.DOTALL)


def nested_deeper_than(text: str, limit: int) -> bool:
    """Whether JSON ``text`` nests arrays and objects more than ``limit`` deep (strings skipped)."""
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        bracket = match.group(1)
        if bracket is None:
            continue
        if bracket in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> str:
    """A printable ASCII excerpt of ``value`` of at most about ``limit`` characters."""
    if isinstance(value, str):
        shown = ascii(value[:limit])
        if len(value) > limit:
            shown += f"... ({len(value)} characters)"
        return shown
    if isinstance(value, bytes | bytearray):
        shown = repr(bytes(value[:limit]))
        return shown + (f"... ({len(value)} bytes)" if len(value) > limit else "")
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        if value.bit_length() > 100:
            return f"an integer of about {int(value.bit_length() * 0.30103)} digits"
        return repr(value)
    if isinstance(value, float | LongNumber):
        return repr(value)
    if isinstance(value, dict | list | tuple | set | frozenset):
        items = list(value.items())[:5] if isinstance(value, dict) else list(value)[:5]
        if len(value) <= 4 and all(_plain(item) for item in items):
            shown = repr(value)
            if len(shown) <= 2 * limit:
                return shown
        kind = "an object" if isinstance(value, dict) else f"a {type(value).__name__}"
        return f"{kind} of {len(value)} item{'s' if len(value) != 1 else ''}"
    return f"a {type(value).__name__}"


def _plain(value: Any) -> bool:
    if isinstance(value, tuple):
        return len(value) <= 2 and all(_plain(v) for v in value)
    if isinstance(value, str):
        return len(value) <= EXCERPT_CHARS and value.isprintable() and value.isascii()
    if isinstance(value, int):
        return value.bit_length() <= 64
    return value is None or isinstance(value, float)
