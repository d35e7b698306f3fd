"""Typed columns: a cell's value read as text, an amount, a month or a count.

A value that is not what its column holds is a :class:`WorkbookError` naming the cell
(``actuals.xlsx!Transactions!F88: 'n/a' is not an amount``): a finance tool never guesses.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from mcos.finance.sources import CellRef, WorkbookError

_MONTH_TEXT = re.compile(r"^(\d{4})[-/](\d{1,2})(?:[-/](\d{1,2}))?(?:[ T].*)?$")
_DAY_FIRST = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")
_MONTH_NAMES = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_AMOUNT_NOISE = str.maketrans("", "", " ,\u00a0R$")


def as_text(value: Any) -> str:
    """A key's text: whole numbers without ``.0`` (Excel stores 1001 as 1001.0)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    return " ".join(str(value).split())


def fold(text: str) -> str:
    """How keys compare: case and runs of spaces aside."""
    return text.casefold()


def as_amount(value: Any, ref: CellRef) -> Decimal:
    """A money amount: a number, or text such as ``R 1,234.50`` or ``(300.00)`` (negative)."""
    if isinstance(value, bool):
        raise WorkbookError(f"{ref.text}: {value!r} is not an amount")
    if isinstance(value, int | float):
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if not amount.is_finite():
            raise WorkbookError(f"{ref.text}: {value!r} is not an amount")
        return amount
    if isinstance(value, str) and value.strip():
        text = value.strip().translate(_AMOUNT_NOISE)
        negative = text.startswith("(") and text.endswith(")")
        if negative:
            text = text[1:-1]
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise WorkbookError(f"{ref.text}: {value!r} is not an amount") from None
        if amount.is_finite():
            return -amount if negative else amount
        raise WorkbookError(f"{ref.text}: {value!r} is not an amount")
    if value is None or value == "":
        raise WorkbookError(f"{ref.text}: the amount is empty")
    raise WorkbookError(f"{ref.text}: {value!r} is not an amount")


def as_month(value: Any, ref: CellRef) -> str:
    """``YYYY-MM`` from a date, or from text: ``2026-03``, ``2026-03-15``, ``15/03/2026``
    (day first, as written in South Africa), ``Mar 2026``."""
    if isinstance(value, datetime | date):
        return f"{value.year:04d}-{value.month:02d}"
    if isinstance(value, str):
        text = value.strip()
        found = _MONTH_TEXT.match(text)
        if found and 1 <= int(found[2]) <= 12:
            return f"{int(found[1]):04d}-{int(found[2]):02d}"
        found = _DAY_FIRST.match(text)
        if found and 1 <= int(found[2]) <= 12:
            return f"{int(found[3]):04d}-{int(found[2]):02d}"
        words = text.replace(",", " ").split()
        if len(words) == 2 and words[0].casefold() in _MONTH_NAMES and words[1].isdigit():
            return f"{int(words[1]):04d}-{_MONTH_NAMES[words[0].casefold()]:02d}"
    if value is None or value == "":
        raise WorkbookError(f"{ref.text}: the date is empty")
    raise WorkbookError(f"{ref.text}: {value!r} is not a date or a month")


def as_count(value: Any, ref: CellRef) -> int:
    """A whole, non-negative count (of activations, installations, ...)."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, int | float) and not isinstance(value, bool):
        if float(value).is_integer() and value >= 0:
            return int(value)
    raise WorkbookError(f"{ref.text}: {value!r} is not a whole count")
