"""The value ledger: human time that finished work saved, in money, set against spend.

A task is credited once, when someone other than its doer accepts it (moves it to ``done``),
at the rate its ``kind`` has in the fleet file's ``[[value_ledger]]``. Spend is in US dollars;
value is converted with the fleet file's ``[exchange_rates]``. ROI is value over the whole cost:
model spend plus the fleet file's ``[costs]`` fixed monthly costs prorated to the period
(:mod:`mcos.fleet.costs`), as the seed computes its 40:1. Every figure comes from the log, the
usage table and the fleet file, never from a model.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from mcos.domain import events as ev
from mcos.domain.kanban import TaskStatus
from mcos.fleet.costs import Period, fixed_costs
from mcos.fleet.schema import Fleet
from mcos.services import usage_totals
from mcos.services.budgets import period_starts
from mcos.storage import tables

E, T = tables.events, tables.tasks


def done_task_ids(conn: Connection, since: datetime) -> list[int]:
    """Tasks accepted (moved to ``done``) since ``since`` by someone other than their doer,
    each once (done is final)."""
    moved = conn.execute(
        select(E.c.actor, E.c.data)
        .where(E.c.type == ev.TASK_MOVED, E.c.ts >= since)
        .order_by(E.c.seq)
    )
    return sorted(
        {
            r.data["task"]
            for r in moved
            if r.data.get("to") == TaskStatus.DONE.value
            and r.actor != f"agent:{r.data.get('assignee')}"
        }
    )


def _done_since(conn: Connection, since: datetime) -> Counter[str]:
    """Tasks per kind that reached ``done`` since ``since``."""
    ids = done_task_ids(conn, since)
    kinds: Counter[str] = Counter()
    for start in range(0, len(ids), 500):
        for row in conn.execute(select(T.c.kind).where(T.c.id.in_(ids[start : start + 500]))):
            if row.kind:
                kinds[row.kind] += 1
    return kinds


def spend_since(conn: Connection, since: datetime) -> tuple[float, int]:
    """Dollars spent and LLM calls made since ``since`` (from the running totals)."""
    spent = usage_totals.spend_since(conn, since, "agent").values()
    return float(sum(used["cost_usd"] for used in spent)), sum(used["calls"] for used in spent)


def _period(
    conn: Connection, fleet: Fleet, since: datetime, period: Period, local_now: datetime
) -> dict[str, Any]:
    done = _done_since(conn, since)
    kinds: list[dict[str, Any]] = []
    value_usd = 0.0
    unpriced: set[str] = set()
    for rate in fleet.value_ledger:
        count = done.get(rate.kind, 0)
        minutes = count * rate.minutes_saved
        value = minutes / 60 * rate.hourly_rate
        per_usd = fleet.usd_rate(rate.currency)
        if per_usd is None:
            unpriced.add(rate.currency)
        else:
            value_usd += value / per_usd
        kinds.append(
            {
                "kind": rate.kind,
                "tasks": count,
                "minutes_saved": minutes,
                "value": round(value, 2),
                "currency": rate.currency,
                "value_usd": round(value / per_usd, 2) if per_usd else None,
            }
        )
    spend, _ = spend_since(conn, since)
    fixed = fixed_costs(fleet, period, local_now)
    cost = spend + fixed["usd"]
    return {
        "since": since.isoformat(),
        "kinds": kinds,
        "tasks_credited": sum(done.get(r.kind, 0) for r in fleet.value_ledger),
        "hours_saved": round(
            sum(done.get(r.kind, 0) * r.minutes_saved for r in fleet.value_ledger) / 60, 2
        ),
        "value_usd": round(value_usd, 2),
        "spend_usd": round(spend, 6),
        "fixed_costs": fixed,
        "fixed_costs_usd": fixed["usd"],
        "cost_usd": round(cost, 6),
        "roi": round(value_usd / cost, 1) if cost > 0 and not unpriced else None,
        "missing_exchange_rates": sorted(unpriced),
    }


def value_summary(conn: Connection, fleet: Fleet, now: datetime) -> dict[str, Any] | None:
    """Value against cost (model spend and prorated fixed costs) today and this month, or
    ``None`` without a value ledger."""
    if not fleet.value_ledger:
        return None
    day, month = period_starts(fleet, now)
    local_now = now.astimezone(day.tzinfo)
    currencies = sorted({r.currency for r in fleet.value_ledger})
    return {
        "currencies": currencies,
        "exchange_rates": {c: fleet.usd_rate(c) for c in currencies},
        "today": _period(conn, fleet, day, "today", local_now),
        "month": _period(conn, fleet, month, "month", local_now),
    }
