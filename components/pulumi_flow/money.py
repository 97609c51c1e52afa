"""Money in US dollars: exact decimals, whole cents on the wire. The one place money is parsed,
rounded and written.

Floats reach us from Pulumi (every number on its wire is a float64) and from users, so a float is
read by its shortest round-trip text (`3.125` is exactly 3.125, `0.1 + 0.2` becomes 0.3 after the
micro-dollar step below), never by its binary expansion. Bids are whole cents because Mithril's
limit prices are (`"$25.60"`). A bid is only ever rounded **up** to the cent: a limit a fraction
of a cent higher costs nothing in a second-price auction, while one a fraction lower may be
preempted or fail the bid floor.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, InvalidOperation

CENT = Decimal("0.01")
HOURS_IN_30_DAYS = 720  # what a 30-day projection multiplies an hourly rate by
# Float arithmetic in a program (`3.125 * 8 * 1.1` is 27.500000000000004) leaves noise far below
# a micro-dollar; it is cut there, so that noise never adds a cent.
MICRO = Decimal("0.000001")
# Mithril's wire form of a price, exactly as the Flow SDK sends it (`"$25.60"`): digits, at most two decimals,
# nothing else (no "$ 5", "$1_000", "$1,000.00", "$inf" or "$1e308").
WIRE_PRICE = re.compile(r"^\$(0|[1-9][0-9]{0,6})(\.[0-9]{1,2})?$")


class NotMoneyError(ValueError):
    """The value is not an amount of US dollars."""

    def __init__(self, value: object, expected: str = "a finite number of US dollars, such as 12.5 or '$12.50'"):
        self.value = value
        self.expected = expected
        super().__init__(f"{value!r} is not {expected}")


def usd(value: object) -> Decimal:
    """An exact amount from an int, a float, a Decimal, or a string such as `"$1,025.60"` or `"12.5"`."""
    if isinstance(value, bool):
        raise NotMoneyError(value)
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise NotMoneyError(value)
        amount = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip().removeprefix("$").replace(",", "")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise NotMoneyError(value) from None
    else:
        raise NotMoneyError(value)
    if not amount.is_finite():
        raise NotMoneyError(value)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -6:
        amount = amount.quantize(MICRO, rounding=ROUND_HALF_EVEN)
    return amount


def maybe_usd(value: object) -> Decimal | None:
    """`usd(value)`, or None for anything that is not money (a missing field, a malformed answer)."""
    try:
        return usd(value)
    except NotMoneyError:
        return None


def cents_up(amount: Decimal) -> Decimal:
    """The least whole-cent amount at or above `amount`."""
    return amount.quantize(CENT, rounding=ROUND_CEILING)


def cents_down(amount: Decimal) -> Decimal:
    """The greatest whole-cent amount at or below `amount`: a ceiling the user set is never exceeded."""
    return amount.quantize(CENT, rounding=ROUND_FLOOR)


def limit_price(amount: Decimal | float | int) -> str:
    """Mithril's wire form of a bid, `"$25.60"`; a sub-cent amount is rounded up, never down."""
    return f"${cents_up(usd(amount)):.2f}"


def from_wire(text: object) -> Decimal:
    """A price in Mithril's wire form (`"$12.5"`, `"$12.50"`), exactly; anything else is NotMoneyError."""
    if not isinstance(text, str) or not WIRE_PRICE.fullmatch(text):
        raise NotMoneyError(text, "a dollar string such as '$12.50'")
    return Decimal(text[1:])


def in_cents(amount: Decimal) -> int:
    """A whole-cent amount as an integer number of cents; a fraction of a cent is refused, never dropped."""
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise NotMoneyError(amount, "a whole number of cents")
    return int(cents)


def from_cents(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def show(amount: Decimal | float | int) -> str:
    """For people: `$1,025.60`, and every digit of a sub-cent figure such as a threshold (`$3.125`)."""
    exact = usd(amount).normalize()
    places = max(2, -int(exact.as_tuple().exponent))
    return f"${exact:,.{places}f}"


def as_text(amount: Decimal | float | int) -> str:
    """For scripts (JSON): the exact figure as a string, `1025.60`, `3.125` (a JSON number is a float to most)."""
    return show(amount)[1:].replace(",", "")


def as_number(amount: Decimal) -> float:
    """For Pulumi state and outputs (float64 on the wire): exact for whole cents."""
    return float(amount)
