"""Usage and budgets: every LLM call priced and recorded; over budget, the agent is paused.

Budgets come from the fleet file (per agent, per day and month, in money and tokens); an
operator may change them at run time, which is recorded. Days and months are the fleet's
time zone's. Nothing retries early: a cooldown refuses the budget check until it ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, bindparam, insert, select, update

from mcos.contract.requests import BudgetChange, BudgetCheck, UsageIn, isoformat
from mcos.domain import events as ev
from mcos.domain.liveness import Liveness
from mcos.errors import Conflict, InvalidInput, NotFound
from mcos.fleet.schema import Fleet
from mcos.pricing import UnknownModelPrice, price_call
from mcos.services import usage_totals
from mcos.services.access import Principal, require_operator, require_self
from mcos.services.events import refuse_duplicates
from mcos.services.refusals import Refusal, refuse, refuse_duplicate
from mcos.services.suspension import is_suspension
from mcos.storage import tables
from mcos.storage.writer import WriteContext

A, U = tables.agents, tables.usage
LIMITS = ("daily_usd", "monthly_usd", "daily_tokens", "monthly_tokens")

_REMEMBERED: ContextVar[dict[str, dict[str, Any]] | None] = ContextVar(
    "remembered_spend", default=None
)
"""Within :func:`spend_remembered`: each agent's spend as read once, grown by what is recorded."""


@contextlib.contextmanager
def spend_remembered() -> Iterator[None]:
    """Within, :func:`settle_budget` reads an agent's spend once and :func:`record_calls_of`
    adds each recorded call to it, rather than reading the running totals after every call (a
    bundle of reports holds two usage reports a task). Only for work that is undone whole if
    any of it fails: a part rolled back alone would leave its calls counted here."""
    token = _REMEMBERED.set({})
    try:
        yield
    finally:
        _REMEMBERED.reset(token)


# Built once: every usage report reads it. Locked until the commit, as _AGENTS below.
_AGENT = select(A).where(A.c.name == bindparam("name")).with_for_update()


def agent_row(conn: Connection, name: str) -> Any:
    """The agent's row; 404 if it is not an active agent of the fleet."""
    row = conn.execute(_AGENT, {"name": name}).first()
    if row is None or not row.active:
        raise NotFound(f"no agent named {name!r} in the fleet")
    return row


def period_starts(fleet: Fleet, now: datetime) -> tuple[datetime, datetime]:
    """The start of today and of this month in the fleet's time zone."""
    local = now.astimezone(ZoneInfo(fleet.fleet.timezone))
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return day, day.replace(day=1)


def budget_of(fleet: Fleet, row: Any) -> dict[str, float | int | None]:
    config = fleet.agent(row.name)
    limits: dict[str, float | int | None] = (
        config.budget.model_dump() if config else dict.fromkeys(LIMITS)
    )
    return limits | (row.budget_override or {})


def spent(conn: Connection, fleet: Fleet, name: str, now: datetime) -> dict[str, Any]:
    """What one agent has spent today and this month: money and tokens."""
    return spent_by_agent(conn, fleet, now, [name])[name]


def spent_by_agent(
    conn: Connection,
    fleet: Fleet,
    now: datetime,
    names: list[str],
    *,
    this_month: bool = True,
) -> dict[str, dict[str, Any]]:
    """What each of ``names`` has spent today and this month (today only without
    ``this_month``: the monthly figures stay 0), read from the running totals."""
    day, month = period_starts(fleet, now)
    periods = (("daily", day), ("monthly", month)) if this_month else (("daily", day),)
    out: dict[str, dict[str, Any]] = {
        n: {
            "daily_usd": Decimal(0),
            "daily_tokens": 0,
            "monthly_usd": Decimal(0),
            "monthly_tokens": 0,
        }
        for n in names
    }
    spend = usage_totals.spend_in(conn, dict(periods), "agent", names)
    for label, by_agent in spend.items():
        for agent, used in by_agent.items():
            out[agent][f"{label}_usd"] = used["cost_usd"]
            out[agent][f"{label}_tokens"] = (
                used["input_tokens"]
                + used["output_tokens"]
                + used["cache_read_tokens"]
                + used["cache_write_tokens"]
            )
    return out


def model_spend(conn: Connection, since: datetime) -> list[dict[str, Any]]:
    """Calls, cost and tokens per model since ``since``."""
    return [
        {
            "model": model,
            "calls": used["calls"],
            "cost_usd": float(used["cost_usd"]),
            "tokens": used["input_tokens"] + used["output_tokens"],
        }
        for model, used in sorted(usage_totals.spend_since(conn, since, "model").items())
    ]


def over_budget(
    budget: dict[str, float | int | None],
    used: dict[str, Any],
    extra_usd: float = 0,
    extra_tokens: int = 0,
) -> str | None:
    """The first limit the spend (plus what is about to be spent) breaks, described; or None."""
    for key in LIMITS:
        limit = budget.get(key)
        if limit is None:
            continue
        extra = Decimal(str(extra_usd)) if key.endswith("usd") else extra_tokens
        value = used[key] + extra
        if value > (Decimal(str(limit)) if key.endswith("usd") else limit):
            shown = (
                f"${value:.4f} of ${limit:.2f}" if key.endswith("usd") else f"{value} of {limit}"
            )
            return f"{key.replace('_', ' ')} budget exceeded ({shown})"
    return None


def _pause(ctx: WriteContext, row: Any, reason: str, actor: str, data: dict[str, Any]) -> None:
    ctx.conn.execute(
        update(A)
        .where(A.c.name == row.name)
        .values(paused=True, paused_reason=reason, liveness=Liveness.SUSPENDED.value)
    )
    ctx.append(
        ev.BUDGET_EXCEEDED,
        actor,
        f"agent:{row.name}",
        data | {"agent": row.name, "reason": reason, "paused": True},
    )
    if row.liveness != Liveness.SUSPENDED.value:
        ctx.append(
            ev.AGENT_LIVENESS_CHANGED,
            actor,
            f"agent:{row.name}",
            {
                "agent": row.name,
                "from": row.liveness,
                "to": Liveness.SUSPENDED.value,
                "reason": reason,
            },
        )


def _summary(used: dict[str, Any], budget: dict[str, Any]) -> dict[str, Any]:
    return {
        "spent": {k: float(v) if isinstance(v, Decimal) else v for k, v in used.items()},
        "budget": budget,
    }


@dataclass(frozen=True)
class Call:
    """One LLM call to record: from the usage endpoint, or from an OTLP span."""

    model: str
    input_tokens: int
    """Uncached prompt tokens."""
    output_tokens: int
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    latency_ms: int | None = None
    task_id: int | None = None
    client_id: str | None = None
    """The idempotency key of its ``usage.recorded`` event."""
    extra: dict[str, Any] = field(default_factory=dict)
    """More for the event's data (the span it came from, the gauge it read)."""


def price_of(fleet: Fleet, row: Any, call: Call) -> Decimal:
    """The call's cost by the price table; raises :class:`UnknownModelPrice`."""
    return price_call(
        fleet,
        row.provider,
        call.model,
        input_tokens=call.input_tokens,
        output_tokens=call.output_tokens,
        cache_read_tokens=call.cache_read_tokens,
        cache_write_tokens=call.cache_write_tokens,
    )


def record_calls(
    ctx: WriteContext, actor: str, row: Any, calls: list[tuple[Call, Decimal]]
) -> list[dict[str, Any]]:
    """Write priced calls of one agent: a usage row and a ``usage.recorded`` event each.

    The budget is not looked at: :func:`settle_budget` once after all of them. The agent's
    running totals (:mod:`usage_totals`) grow in the same transaction, by the same rows.
    """
    [recorded] = record_calls_of(ctx, [(actor, row, calls)])
    return recorded


def record_calls_of(
    ctx: WriteContext, groups: list[tuple[str, Any, list[tuple[Call, Decimal]]]]
) -> list[list[dict[str, Any]]]:
    """:func:`record_calls` for several (actor, agent row, calls) at once: one insert and one
    update of the running totals for all of them, whatever their number of agents."""
    priced = [
        (
            actor,
            row,
            [(call, cost.quantize(usage_totals.MICRO, ROUND_HALF_UP)) for call, cost in calls],
        )
        for actor, row, calls in groups
    ]
    rows = [
        {
            "ts": ctx.now,
            "agent": row.name,
            "provider": row.provider,
            "model": call.model,
            "credential": row.credential_env,
            "input_tokens": call.input_tokens,
            "output_tokens": call.output_tokens,
            "cache_read_tokens": call.cache_read_tokens,
            "cache_write_tokens": call.cache_write_tokens,
            "cost_usd": cost,
            "latency_ms": call.latency_ms,
            "task_id": call.task_id,
        }
        for _, row, calls in priced
        for call, cost in calls
    ]
    if rows:
        ctx.conn.execute(insert(U), rows)
        usage_totals.add(ctx.conn, rows)
        if remembered := _REMEMBERED.get():
            for added in rows:  # all at ctx.now: in today and this month
                if (used := remembered.get(added["agent"])) is not None:
                    tokens = sum(added[n] for n in usage_totals.COUNTS[1:])
                    for period in ("daily", "monthly"):
                        used[f"{period}_usd"] += added["cost_usd"]
                        used[f"{period}_tokens"] += tokens
    recorded: list[list[dict[str, Any]]] = []
    for actor, row, calls in priced:
        mine = []
        for call, cost in calls:
            data = {
                "agent": row.name,
                "model": call.model,
                "credential": row.credential_env,
                "input_tokens": call.input_tokens,
                "output_tokens": call.output_tokens,
                "cache_read_tokens": call.cache_read_tokens,
                "cache_write_tokens": call.cache_write_tokens,
                "cost_usd": float(cost),
                "latency_ms": call.latency_ms,
                "task_id": call.task_id,
            } | call.extra
            ctx.append(
                ev.USAGE_RECORDED, actor, f"agent:{row.name}", data, client_id=call.client_id
            )
            mine.append(data)
        recorded.append(mine)
    return recorded


def settle_budget(
    ctx: WriteContext, fleet: Fleet, row: Any
) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """After recording usage: spent and budget, pausing the agent if it went over; and
    whether it is paused now."""
    remembered = _REMEMBERED.get()
    if remembered is None:
        return _settle(ctx, fleet, row, spent(ctx.conn, fleet, row.name, ctx.now))
    if row.name not in remembered:
        remembered[row.name] = spent(ctx.conn, fleet, row.name, ctx.now)
    return _settle(ctx, fleet, row, dict(remembered[row.name]))


def _settle(
    ctx: WriteContext, fleet: Fleet, row: Any, used: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], bool]:
    budget = budget_of(fleet, row)
    broken = over_budget(budget, used)
    if broken and not row.paused:
        _pause(ctx, row, broken, "system", _summary(used, budget))
    return used, budget, bool(broken or row.paused)


def _call_of(body: UsageIn, row: Any) -> Call:
    """A usage report as the call to record (the agent's own model unless it names one)."""
    return Call(
        model=body.model or row.model,
        input_tokens=body.input_tokens,
        output_tokens=body.output_tokens,
        cache_read_tokens=body.cache_read_tokens,
        cache_write_tokens=body.cache_write_tokens,
        latency_ms=body.latency_ms,
        task_id=body.task_id,
        client_id=body.id,
    )


def record_usage(
    ctx: WriteContext, fleet: Fleet, principal: Principal, name: str, body: UsageIn
) -> dict[str, Any]:
    refuse_duplicate(ctx, principal.actor, body.id, "usage report")
    require_self(principal, name)
    row = agent_row(ctx.conn, name)
    call = _call_of(body, row)
    try:
        cost = price_of(fleet, row, call)
    except UnknownModelPrice as exc:
        raise InvalidInput(
            f'{exc}; add a [prices."{call.model}"] table to the fleet file', field="model"
        ) from None
    [recorded] = record_calls(ctx, principal.actor, row, [(call, cost)])
    used, budget, paused = settle_budget(ctx, fleet, row)
    return recorded | _summary(used, budget) | {"paused": paused}


@dataclass(frozen=True)
class UsageItem:
    """One usage report for :func:`record_usages`: who sent it, for which agent, and what."""

    principal: Principal
    agent: str
    body: UsageIn


def record_usages(ctx: WriteContext, fleet: Fleet, items: list[UsageItem]) -> list[dict[str, Any]]:
    """Record the usage reports that arrived together, in a handful of statements whatever
    their number: the writer runs every usage report of a batch through here (``submit_bulk``).

    Each is answered as :func:`record_usage` answers it, its spend and budget read once the
    batch's calls are recorded. Anything wrong with one (a duplicate id, an unknown agent or
    model, another agent's report) raises, and the writer then runs each report alone, so each
    gets its own answer or error.
    """
    if len(items) == 1:
        [item] = items
        return [record_usage(ctx, fleet, item.principal, item.agent, item.body)]
    for item in items:
        require_self(item.principal, item.agent)
    refuse_duplicates(
        ctx,
        [(i.principal.actor, i.body.id) for i in items if i.body.id is not None],
        "usage report",
    )
    names = sorted({item.agent for item in items})
    rows = {r.name: r for r in ctx.conn.execute(_AGENTS, {"names": names})}
    calls: dict[tuple[str, str], list[tuple[int, Call, Decimal]]] = {}
    for at, item in enumerate(items):
        row = rows.get(item.agent)
        if row is None or not row.active:
            raise NotFound(f"no agent named {item.agent!r} in the fleet")
        call = _call_of(item.body, row)
        cost = price_of(fleet, row, call)  # an unknown model raises: each then goes alone
        calls.setdefault((item.principal.actor, item.agent), []).append((at, call, cost))
    recorded: dict[int, dict[str, Any]] = {}
    groups = list(calls.items())
    written = record_calls_of(
        ctx,
        [
            (actor, rows[agent], [(call, cost) for _, call, cost in mine])
            for (actor, agent), mine in groups
        ],
    )
    for (_, mine), data in zip(groups, written, strict=True):
        recorded |= {at: one for (at, _, _), one in zip(mine, data, strict=True)}
    spends = spent_by_agent(ctx.conn, fleet, ctx.now, names)
    after: dict[str, dict[str, Any]] = {}
    for name in names:
        used, budget, paused = _settle(ctx, fleet, rows[name], spends[name])
        after[name] = _summary(used, budget) | {"paused": paused}
    return [recorded[at] | after[item.agent] for at, item in enumerate(items)]


# Locked until the commit, in name order: usage reports run beside other replicas' batches
# (storage/README.md), and the budget is settled on the row as it is.
_AGENTS = (
    select(A)
    .where(A.c.name.in_(bindparam("names", expanding=True)))
    .order_by(A.c.name)
    .with_for_update()
)


def check_budget(
    ctx: WriteContext, fleet: Fleet, principal: Principal, name: str, body: BudgetCheck
) -> dict[str, Any] | Refusal:
    """Before a call: refused while paused, cooling down, or if it would break a limit."""
    require_self(principal, name)
    row = agent_row(ctx.conn, name)
    subject = f"agent:{name}"
    data = {
        "agent": name,
        "estimated_tokens": body.estimated_tokens,
        "estimated_usd": body.estimated_usd,
    }
    if row.paused:
        return refuse(
            ctx,
            Conflict(
                f"agent {name!r} is paused: {row.paused_reason}; "
                + (
                    "an operator or the orchestrator must resume it"
                    if is_suspension(row.paused_reason)
                    else "an operator must raise its budget"
                ),
                code="paused",
            ),
            ev.BUDGET_REFUSED,
            principal.actor,
            subject,
            data,
        )
    if row.cooldown_until is not None and row.cooldown_until > ctx.now:
        wait = (row.cooldown_until - ctx.now).total_seconds()
        return refuse(
            ctx,
            Conflict(
                f"agent {name!r}'s credential {row.credential_env} is "
                f"cooling down for {wait:.1f} s more (a 429); do not "
                "retry before then",
                code="cooling_down",
            ),
            ev.BUDGET_REFUSED,
            principal.actor,
            subject,
            data | {"until": isoformat(row.cooldown_until)},
        )
    used = spent(ctx.conn, fleet, name, ctx.now)
    budget = budget_of(fleet, row)
    broken = over_budget(budget, used, body.estimated_usd, body.estimated_tokens)
    if broken:
        _pause(ctx, row, broken, "system", _summary(used, budget))
        return Refusal(
            Conflict(
                f"agent {name!r}: {broken}; it is paused until an operator raises its budget",
                code="over_budget",
            )
        )
    return {"allowed": True, "agent": name} | _summary(used, budget)


def change_budget(
    ctx: WriteContext, fleet: Fleet, principal: Principal, name: str, body: BudgetChange
) -> dict[str, Any]:
    require_operator(principal, "change budgets")
    row = agent_row(ctx.conn, name)
    changes = body.model_dump(exclude_unset=True, exclude={"reason"})
    if not changes:
        raise InvalidInput("give at least one limit to change", field=None)
    override = (row.budget_override or {}) | changes
    budget = budget_of(fleet, row) | override
    used = spent(ctx.conn, fleet, name, ctx.now)
    still = over_budget(budget, used)
    values: dict[str, Any] = {"budget_override": override}
    # A suspension by hand is lifted by resuming the agent, never by raising its budget.
    suspended = is_suspension(row.paused_reason)
    if row.paused and still is None and not suspended:
        values |= {"paused": False, "paused_reason": None, "liveness": Liveness.IDLE.value}
    ctx.conn.execute(update(A).where(A.c.name == name).values(**values))
    ctx.append(
        ev.BUDGET_CHANGED,
        principal.actor,
        f"agent:{name}",
        {
            "agent": name,
            "changes": changes,
            "reason": body.reason,
            "resumed": row.paused and still is None and not suspended,
        },
    )
    paused = bool(row.paused and (still is not None or suspended))
    return {"agent": name, "paused": paused} | _summary(used, budget)


def usage_summary(conn: Connection, fleet: Fleet, now: datetime) -> dict[str, Any]:
    """Spend today and this month per agent (against its budget) and per model."""
    day, month = period_starts(fleet, now)
    rows = conn.execute(select(A).where(A.c.active.is_(True)).order_by(A.c.name)).all()
    used_by = spent_by_agent(conn, fleet, now, [r.name for r in rows])
    agents = [
        {"agent": row.name, "paused": row.paused, "paused_reason": row.paused_reason}
        | _summary(used_by[row.name], budget_of(fleet, row))
        for row in rows
    ]
    models = model_spend(conn, month)
    total_today = sum(a["spent"]["daily_usd"] for a in agents)
    total_month = sum(a["spent"]["monthly_usd"] for a in agents)
    return {
        "day_starts": day.isoformat(),
        "month_starts": month.isoformat(),
        "today_usd": total_today,
        "month_usd": total_month,
        "agents": agents,
        "models_this_month": models,
        "models_today": model_spend(conn, day),
    }
