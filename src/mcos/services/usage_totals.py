"""Running totals of usage, so that a budget check costs the same at any number of usage rows.

Each usage row is added, in the transaction that writes it, to three buckets of its agent and
model in ``usage_totals``: the UTC quarter-hour, hour and day its ``ts`` falls in. A period that
starts on a quarter-hour, as every local midnight of every time zone in use does (offsets are
whole quarter-hours), is then covered exactly, and with no row twice, by at most 3 quarters,
23 hours and the UTC days after them (:func:`cover`): a bounded read, whatever the month holds.

Why UTC buckets rather than the fleet's days and months: the fleet file's time zone may change,
and the migration that fills the totals from existing rows does not know it; UTC buckets are
right for every zone at once, so nothing is rebuilt when the zone changes.

What must always hold:

- For every bucket, the totals equal the sum of the usage rows in it, exactly: money is kept as
  whole micro-dollars (the row's ``cost_usd`` has six decimals), never as a float.
- A row belongs to the bucket of its ``ts``, the time the control plane recorded it, as the
  aggregate over rows that this replaces counted it.
- Usage rows are never updated or deleted (``mcos db archive`` moves events, not usage rows), so
  nothing ever subtracts; a backup snapshot holds the totals with the rows.
- An increment is one ``INSERT ... ON CONFLICT DO UPDATE SET x = x + excluded.x``, atomic across
  replicas on one PostgreSQL; rows are written in key order, so two transactions adding to the
  same buckets lock them in the same order.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Connection, Integer, bindparam, func, literal_column, select, union_all
from sqlalchemy.dialects import postgresql, sqlite

from mcos.storage import tables

U, UT = tables.usage, tables.usage_totals
MICRO = Decimal("0.000001")
"""A usage row's precision (``Numeric(14, 6)``): a cost is rounded to it before it is written."""
QUARTER = timedelta(minutes=15)
COUNTS = ("calls", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
SUMS = (*COUNTS, "cost_microusd")


def to_micro(cost: Decimal) -> int:
    """Whole micro-dollars of a cost already rounded to :data:`MICRO`."""
    return int(cost.quantize(MICRO, ROUND_HALF_UP).scaleb(6))


def from_micro(micro: int) -> Decimal:
    return Decimal(micro).scaleb(-6).quantize(MICRO)


def buckets(ts: datetime) -> list[tuple[str, datetime]]:
    """The three UTC buckets ``ts`` is counted in, each by its grain and its start."""
    ts = ts.astimezone(UTC)
    hour = ts.replace(minute=0, second=0, microsecond=0)
    return [
        ("quarter", hour.replace(minute=ts.minute - ts.minute % 15)),
        ("hour", hour),
        ("day", hour.replace(hour=0)),
    ]


def _upsert(dialect: Any) -> Any:
    stmt = dialect.insert(UT)
    return stmt.on_conflict_do_update(
        index_elements=[UT.c.agent, UT.c.grain, UT.c.starts, UT.c.model],
        set_={name: UT.c[name] + stmt.excluded[name] for name in SUMS},
    )


UPSERT = {"postgresql": _upsert(postgresql), "sqlite": _upsert(sqlite)}
"""Built once: a statement built per call costs more CPU than the database spends on it."""


def add(conn: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Add usage rows (as written to ``usage``) to their buckets: one upsert per bucket, in
    key order, sent as one ``executemany``."""
    sums: dict[tuple[str, str, datetime, str], list[int]] = {}
    for row in rows:
        values = [
            1,
            row["input_tokens"],
            row["output_tokens"],
            row["cache_read_tokens"],
            row["cache_write_tokens"],
            to_micro(row["cost_usd"]),
        ]
        for grain, starts in buckets(row["ts"]):
            total = sums.setdefault((row["agent"], grain, starts, row["model"]), [0] * len(SUMS))
            for i, value in enumerate(values):
                total[i] += value
    if sums:
        conn.execute(
            UPSERT[conn.dialect.name],
            [
                {"agent": agent, "grain": grain, "starts": starts, "model": model}
                | dict(zip(SUMS, total, strict=True))
                for (agent, grain, starts, model), total in sorted(sums.items())
            ],
        )


def cover(since: datetime) -> list[tuple[str, datetime, datetime | None]]:
    """The bucket ranges ``(grain, from, to)`` that hold every row from ``since`` on, each
    once: quarters up to the next hour, hours up to the next UTC day, then days."""
    since = since.astimezone(UTC)
    hour = since.replace(minute=0, second=0, microsecond=0)
    next_hour = hour if since == hour else hour + timedelta(hours=1)
    day = next_hour.replace(hour=0)
    next_day = day if next_hour == day else day + timedelta(days=1)
    return [("quarter", since, next_hour), ("hour", next_hour, next_day), ("day", next_day, None)]


def aligned(since: datetime) -> bool:
    """Whether ``since`` starts a quarter-hour (UTC), so the buckets cover it exactly."""
    since = since.astimezone(UTC)
    return since.minute % 15 == 0 and since.second == 0 and since.microsecond == 0


def spend_since(
    conn: Connection, since: datetime, by: str, agents: list[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Calls, token counts and cost (``cost_usd``, exact) per ``by`` (``agent`` or ``model``) of
    every usage row from ``since`` on, optionally only ``agents``'."""
    return spend_in(conn, {"since": since}, by, agents)["since"]


def spend_in(
    conn: Connection, periods: dict[str, datetime], by: str, agents: list[str] | None = None
) -> dict[str, dict[str, dict[str, Any]]]:
    """:func:`spend_since` for several periods (by name: when each starts), in one query."""
    if not all(aligned(since) for since in periods.values()):
        return {name: _spend_from_rows(conn, since, by, agents) for name, since in periods.items()}
    params: dict[str, Any] = {} if agents is None else {"agents": agents}
    for n, since in enumerate(periods.values()):
        for grain, start, end in cover(since):
            params[f"{grain}_from_{n}"] = start
            if end is not None:
                params[f"{grain}_to_{n}"] = end
    out: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in periods}
    names = list(periods)
    for row in conn.execute(_spend_statement(by, agents is not None, len(periods)), params):
        out[names[row.period]][row.key] = {n: int(row._mapping[n]) for n in COUNTS} | {
            "cost_usd": from_micro(int(row.cost_microusd))
        }
    return out


@functools.cache
def _spend_statement(by: str, filtered: bool, periods: int) -> Any:
    """The sums per period and ``by`` over the ranges :func:`cover` gives, each range read at
    its own grain; built once per shape, its parameters named ``GRAIN_from_N``/``GRAIN_to_N``."""
    parts = []
    for n in range(periods):
        for grain in ("quarter", "hour", "day"):
            where = [UT.c.grain == grain, UT.c.starts >= bindparam(f"{grain}_from_{n}")]
            if grain != "day":  # the days run on to the newest row
                where.append(UT.c.starts < bindparam(f"{grain}_to_{n}"))
            if filtered:
                where.append(UT.c.agent.in_(bindparam("agents", expanding=True)))
            parts.append(
                select(
                    literal_column(str(n), Integer).label("period"),
                    UT.c[by].label("key"),
                    *(UT.c[name] for name in SUMS),
                ).where(*where)
            )
    spans = union_all(*parts).subquery()
    return select(
        spans.c.period, spans.c.key, *(func.sum(spans.c[name]).label(name) for name in SUMS)
    ).group_by(spans.c.period, spans.c.key)


def _spend_from_rows(
    conn: Connection, since: datetime, by: str, agents: list[str] | None
) -> dict[str, dict[str, Any]]:
    """The same figures summed over the usage rows: for a period the buckets cannot cover."""
    query = select(
        U.c[by].label("key"),
        func.count().label("calls"),
        *(func.sum(U.c[n]).label(n) for n in COUNTS[1:]),
        func.sum(U.c.cost_usd).label("cost"),
    ).where(U.c.ts >= since)
    if agents is not None:
        query = query.where(U.c.agent.in_(agents))
    return {
        row.key: {n: int(row._mapping[n]) for n in COUNTS}
        | {"cost_usd": Decimal(row.cost).quantize(MICRO)}
        for row in conn.execute(query.group_by(U.c[by]))
    }
