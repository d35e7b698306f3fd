"""The variable parts of a draft: checked against the template's field specs, then formatted.

The caller (the agent) fills only these. Amounts in rand are written as South African
contracts write them, in figures and in words: ``R75 000.00 (seventy-five thousand rand)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from mcos.errors import InvalidInput
from mcos.legal.template import HIGH_COURT_DIVISIONS, DocumentTemplate, FieldSpec

MAX_TEXT = 8_000
MAX_LINES = 60
MAX_RAND = Decimal("1000000000000")

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"))


def in_words(number: int) -> str:
    """``75000`` → ``seventy-five thousand`` (British usage, as South African drafting)."""
    if number < 20:
        return _ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        return f"{_ONES[hundreds]} hundred" + (f" and {in_words(rest)}" if rest else "")
    for scale, name in _SCALES:
        if number >= scale:
            high, rest = divmod(number, scale)
            joiner = " and " if 0 < rest < 100 else " "
            return f"{in_words(high)} {name}" + (f"{joiner}{in_words(rest)}" if rest else "")
    raise AssertionError("unreachable")


def rand(amount: Decimal) -> str:
    whole = int(amount)
    cents = int((amount - whole) * 100)
    figures = f"R{whole:,}.{cents:02d}".replace(",", " ")
    words = f"{in_words(whole)} rand" + (f" and {in_words(cents)} cents" if cents else "")
    return f"{figures} ({words})"


def long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


@dataclass(frozen=True)
class Filled:
    """The formatted values by field name, and which fields were given (for ``when``)."""

    values: dict[str, str]
    lines: dict[str, tuple[str, ...]]
    given: frozenset[str]
    raw: dict[str, str]
    """Choice fields' values as given, for ``when = "field=value"``."""


def _text(spec: FieldSpec, value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{spec.name} must be non-empty text (got {value!r})", field=where)
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{spec.name} is longer than {MAX_TEXT} characters", field=where)
    return " ".join(value.split())


def _format(spec: FieldSpec, value: Any, where: str) -> str | tuple[str, ...]:
    kind = spec.type
    if kind == "lines":
        if isinstance(value, str):
            value = [line for line in value.splitlines() if line.strip()]
        if not isinstance(value, list) or not value or len(value) > MAX_LINES:
            raise InvalidInput(
                f"{spec.name} must be a list of 1 to {MAX_LINES} lines of text", field=where
            )
        return tuple(_text(spec, v, f"{where}[{i}]") for i, v in enumerate(value))
    if kind == "date":
        try:
            return long_date(date.fromisoformat(str(value)))
        except ValueError:
            raise InvalidInput(
                f"{spec.name} must be a date as YYYY-MM-DD (got {value!r})", field=where
            ) from None
    if kind in ("zar", "percent"):
        try:
            amount = Decimal(str(value).replace(" ", "").removeprefix("R"))
        except InvalidOperation:
            amount = Decimal(-1)
        if not amount.is_finite() or amount < 0 or amount >= MAX_RAND or isinstance(value, bool):
            raise InvalidInput(
                f"{spec.name} must be a non-negative number (got {value!r})", field=where
            )
        if kind == "percent":
            return f"{amount.normalize():f}%"
        return rand(amount.quantize(Decimal("0.01")))
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10_000:
            raise InvalidInput(
                f"{spec.name} must be a whole number from 0 to 10000 (got {value!r})", field=where
            )
        return f"{value} ({in_words(value)})"
    if kind in ("choice", "court"):
        allowed = spec.choices if kind == "choice" else HIGH_COURT_DIVISIONS
        if value not in allowed:
            raise InvalidInput(
                f"{spec.name} must be one of: {'; '.join(allowed)} (got {value!r})", field=where
            )
        return str(value)
    return _text(spec, value, where)


def fill(template: DocumentTemplate, given: dict[str, Any]) -> Filled:
    """Check ``given`` against the template's fields; unknown or missing ones are refused."""
    known = {f.name for f in template.fields}
    for name in given:
        if name not in known:
            raise InvalidInput(
                f"template {template.key!r} has no field {name!r}; its fields are "
                + ", ".join(sorted(known)),
                field=f"fields.{name}",
            )
    values: dict[str, str] = {}
    lines: dict[str, tuple[str, ...]] = {}
    present: set[str] = set()
    for spec in template.fields:
        value = given.get(spec.name, spec.default)
        if value is None or value == "" or value == []:
            if spec.required:
                raise InvalidInput(
                    f"template {template.key!r} needs field {spec.name!r} ({spec.type}): "
                    f"{spec.description}",
                    field=f"fields.{spec.name}",
                )
            continue
        formatted = _format(spec, value, f"fields.{spec.name}")
        if isinstance(formatted, tuple):
            lines[spec.name] = formatted
            values[spec.name] = "; ".join(formatted)
        else:
            values[spec.name] = formatted
        present.add(spec.name)
    raw = {
        f.name: values[f.name] for f in template.fields if f.type == "choice" and f.name in values
    }
    return Filled(values, lines, frozenset(present), raw)
