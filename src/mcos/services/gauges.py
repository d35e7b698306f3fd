"""Per-agent gauges for ``GET /metrics``: liveness, time since the last heartbeat, spend today
and the daily budget, read the way the dashboard's snapshot reads them.

One scrape costs two light queries: the agents' rows (one per agent of the fleet) and today's
spend grouped by agent. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from mcos.fleet.schema import Fleet
from mcos.services import budgets
from mcos.services.agents import current_liveness
from mcos.storage import tables

A = tables.agents


@dataclass(frozen=True)
class AgentGauge:
    name: str
    machine: str
    liveness: str
    seconds_since_heartbeat: float | None
    """``None`` for an agent that never sent one."""
    spend_today_usd: float
    spend_today_tokens: int
    daily_budget_usd: float | None
    """``None``: no daily budget in money (the fleet file's, or an operator's override)."""
    daily_budget_tokens: int | None


def agent_gauges(conn: Connection, fleet: Fleet, now: datetime) -> list[AgentGauge]:
    """The gauges of every active agent, by name."""
    rows = conn.execute(select(A).where(A.c.active.is_(True)).order_by(A.c.name)).all()
    spent = budgets.spent_by_agent(conn, fleet, now, [r.name for r in rows], this_month=False)
    gauges = []
    for row in rows:
        budget = budgets.budget_of(fleet, row)
        last = row.last_heartbeat_at
        daily_usd, daily_tokens = budget.get("daily_usd"), budget.get("daily_tokens")
        gauges.append(
            AgentGauge(
                name=row.name,
                machine=row.machine,
                liveness=current_liveness(
                    fleet,
                    row.name,
                    last,
                    row.reported_status,
                    now,
                    row.cooldown_until,
                    row.paused,
                ).value,
                seconds_since_heartbeat=(now - last).total_seconds() if last else None,
                spend_today_usd=float(spent[row.name]["daily_usd"]),
                spend_today_tokens=int(spent[row.name]["daily_tokens"]),
                daily_budget_usd=float(daily_usd) if daily_usd is not None else None,
                daily_budget_tokens=int(daily_tokens) if daily_tokens is not None else None,
            )
        )
    return gauges
