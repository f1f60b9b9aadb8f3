"""INR money, exact to the paisa: integers of paise inside, two-decimal ``Decimal`` outside.

One rounding rule for the whole project (half up, to the paisa) lives here, and so does reading
an amount someone else wrote (:func:`parse_paise`): only plain decimal text or numbers of the
size a ``DECIMAL(12,2)`` column holds are read, so no amount, however written, costs more than a
few microseconds to check.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from functools import lru_cache
from typing import Final

GST_RATE_PERCENT: Final = 18
"""GST on the convenience fee, in percent."""


def gst_paise(fee_paise: int) -> int:
    """18% GST on a fee, rounded half up to the paisa."""
    return (fee_paise * GST_RATE_PERCENT + 50) // 100


@lru_cache(maxsize=65536)
def to_decimal(paise: int) -> Decimal:
    """``45010`` -> ``Decimal('450.10')``."""
    return Decimal(paise).scaleb(-2)


def to_paise(amount: Decimal) -> int:
    """``Decimal('450.10')`` -> ``45010``; raises ``ValueError`` if not exact to the paisa."""
    scaled = amount.scaleb(2)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"amount {amount} is not exact to the paisa")
    return int(scaled)


AMOUNT_PRECISION: Final = 12
AMOUNT_SCALE: Final = 2
"""Amounts are ``DECIMAL(12,2)`` in the joined rows and the warehouse: 10 digits of rupees."""
MAX_AMOUNT_TEXT: Final = 40
"""The longest amount text read (digits, sign, point and trailing zeros of a float's repr)."""
_AMOUNT: Final = re.compile(
    rf"([+-]?)(\d{{1,{AMOUNT_PRECISION - AMOUNT_SCALE}}})(?:\.(\d{{1,{MAX_AMOUNT_TEXT}}}))?"
)


def parse_paise(value: object) -> int | None:
    """Paise of an amount written as a JSON number or plain decimal text; ``None`` unless it is
    exact to the paisa and fits ``DECIMAL(12,2)``.

    Exponents (``"1e5"``, ``1e16``), text longer than :data:`MAX_AMOUNT_TEXT`, non-finite and
    boolean values are refused before any conversion, so a value like ``"1e999990"`` is never
    expanded into a million-digit integer.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        if value.bit_length() > 64:
            return None
        text = str(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None
        text = repr(value)
    elif isinstance(value, str):
        if len(value) > MAX_AMOUNT_TEXT:
            return None
        text = value.strip()
    elif isinstance(value, Decimal):
        if not value.is_finite() or not -20 < value.adjusted() < AMOUNT_PRECISION:
            return None
        text = format(value, "f")
    else:
        return None
    match = _AMOUNT.fullmatch(text)
    if match is None:
        return None
    sign, rupees, fraction = match.group(1), match.group(2), match.group(3) or ""
    if fraction[AMOUNT_SCALE:].strip("0"):
        return None
    paise = int(rupees) * 100 + int(fraction[:AMOUNT_SCALE].ljust(AMOUNT_SCALE, "0"))
    return -paise if sign == "-" else paise
