"""INR money, exact to the paisa: integers of paise inside, two-decimal ``Decimal`` outside.

One rounding rule for the whole project (half up, to the paisa) lives here.
"""

from __future__ import annotations

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
