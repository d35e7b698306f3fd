"""Strict, bounded types for what a request carries, and the check that a value can be stored.

- **Every integer is bounded by the column it is stored in or compared with.** An ``Integer``
  column holds 2**31-1 on PostgreSQL, a ``BigInteger`` (and any SQLite integer) 2**63-1; a larger
  number is refused as invalid input naming its field, never left to fail in the driver.
- **Strict per type, not per model.** No ``"12"``, ``true`` or ``12.5`` for an integer, no ``"x"``
  or ``true`` for a number, no ``1`` or ``"yes"`` for a bool. FastAPI validates a JSON body in
  Python mode after ``json.loads``, where pydantic's model-wide ``strict=True`` would also refuse
  ISO dates and enum values (they arrive as strings), so the scalars carry ``Strict()`` instead,
  and dates are read from ISO strings only.
- **Storable everywhere.** No string may hold NUL (PostgreSQL stores ``\\u0000`` in neither text
  nor JSONB) or a lone surrogate (not UTF-8), no number may be NaN or infinite (not JSON, though
  Python's ``json.loads`` reads them), and free-form JSON nests at most ``JSON_MAX_DEPTH`` deep
  with integers of 64 bits. Numbers stay below 2**63 in size, floats too: PostgreSQL's JSONB
  writes 1e300 out in full, which reads back as an integer no JSON encoder takes (a log that
  cannot be read, a stream that cannot be sent). :func:`check_storable` says what is wrong and
  where.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, Strict
from pydantic_core import PydanticCustomError

INT32_MAX = 2**31 - 1
"""The largest value an ``Integer`` column holds (on PostgreSQL; the narrower backend)."""
INT64_MAX = 2**63 - 1
"""The largest value a ``BigInteger`` column, or any SQLite integer, holds."""
INT64_MIN = -(2**63)
MAX_MAGNITUDE = float(2**63)
"""Floats stay below this in size: beyond it, JSONB gives them back as too large integers."""
JSON_MAX_DEPTH = 32
"""How deep free-form JSON (an event's ``data``) may nest."""

RowId = Annotated[int, Strict(), Field(ge=1, le=INT32_MAX)]
"""The id of a row keyed by an ``Integer`` column: a task, approval, incident or committee."""
Seq = Annotated[int, Strict(), Field(ge=0, le=INT64_MAX)]
"""A position in a ``BigInteger`` sequence: an event's sequence number, a message id."""
Count = Annotated[int, Strict(), Field(ge=0, le=INT32_MAX)]
"""A count or a duration in milliseconds, stored in an ``Integer`` column."""
Tokens = Annotated[int, Strict(), Field(ge=0, le=100_000_000)]
"""Tokens of one prompt or one call: far beyond any model's context, well within ``Integer``."""
TokenLimit = Annotated[int, Strict(), Field(ge=0, le=INT64_MAX)]
"""A budget in tokens, summed over many calls."""
Amount = Annotated[float, Strict(), Field(ge=0, le=1e15)]
"""Money in USD (a quadrillion at most); finite, as every number of an input model is."""
Flag = Annotated[bool, Strict()]

# A field needing tighter bounds uses ``StrictInt`` / ``StrictFloat`` with its own ``Field``: the
# bounds of an alias above would override those of the field's ``Field``.


def _iso_text(value: Any) -> Any:
    if not isinstance(value, str):
        raise PydanticCustomError("iso_string", "give the date as an ISO 8601 string")
    return value


def _in_utc_range(value: datetime) -> datetime:
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_range", "the time is out of range once converted to UTC"
        ) from None
    return value


Day = Annotated[date, BeforeValidator(_iso_text)]
"""A calendar day, ``YYYY-MM-DD``."""
Instant = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_in_utc_range)]
"""A moment with its UTC offset, ISO 8601; stored in UTC."""

Where = tuple[str | int, ...]
"""Keys and indexes from a value down to a part of it: ``("k", 2)`` is ``.k[2]``."""


def storable_problem(value: Any, depth: int = 0) -> tuple[Where, str] | None:
    """Where in ``value`` something cannot be stored, and what; ``None`` when all of it can."""
    if isinstance(value, str):
        if "\x00" in value:
            return (), "must not contain the NUL character (\\u0000)"
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                return (), "must be valid Unicode (it holds a lone surrogate)"
        return None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            return (), f"must be an integer of 64 bits, from {INT64_MIN} to {INT64_MAX}"
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return (), "must be a finite number (NaN and Infinity are not JSON)"
        if abs(value) >= MAX_MAGNITUDE:
            return (), "must be a number below 2**63 in size"
        return None
    if isinstance(value, list | tuple | dict) and depth >= JSON_MAX_DEPTH:
        return (), f"nests deeper than {JSON_MAX_DEPTH} levels"
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = storable_problem(item, depth + 1)
            if found is not None:
                return (index, *found[0]), found[1]
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            bad_key = storable_problem(key)
            if bad_key is not None:  # named by the object holding it: the key may not print
                return (), f"has a key that {bad_key[1]}"
            found = storable_problem(item, depth + 1)
            if found is not None:
                return (key, *found[0]), found[1]
        return None
    return None  # a date, an enum member, a model: validated by its own type


def check_storable(value: Any) -> Any:
    """``value`` unchanged, or a validation error whose ``at`` names the part at fault."""
    found = storable_problem(value)
    if found is not None:
        at, problem = found
        raise PydanticCustomError("storable", problem, {"at": at})
    return value
