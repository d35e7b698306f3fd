"""Suspending and resuming an agent by hand (operators and the orchestrator).

A suspension uses the same switch as a budget pause (``agents.paused``): the heartbeat answers
``suspended`` and the runtime makes no model call. It is told apart by its reason, which starts
with :data:`SUSPENDED_BY`: raising a budget never lifts it, and ``resume`` never lifts a budget
pause (that is an operator raising the budget).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from mcos.domain import events as ev
from mcos.domain.liveness import Liveness
from mcos.errors import Conflict, Forbidden
from mcos.fleet.schema import Fleet
from mcos.services.access import Principal, require_fleet_power
from mcos.services.agents import _active_agent, current_liveness
from mcos.storage import tables
from mcos.storage.writer import WriteContext

A = tables.agents
SUSPENDED_BY = "suspended by "


def is_suspension(paused_reason: str | None, *, by_operator: bool = False) -> bool:
    """Whether a pause is a suspension by someone (not a budget pause); with ``by_operator``,
    one an operator imposed (which only an operator lifts)."""
    prefix = SUSPENDED_BY + ("operator:" if by_operator else "")
    return bool(paused_reason and paused_reason.startswith(prefix))


def _liveness_changed(ctx: WriteContext, actor: str, name: str, old: str, new: str) -> None:
    if old != new:
        ctx.append(
            ev.AGENT_LIVENESS_CHANGED,
            actor,
            f"agent:{name}",
            {"agent": name, "from": old, "to": new, "reason": "suspension"},
        )


def suspend_agent(
    ctx: WriteContext, fleet: Fleet, principal: Principal, name: str, reason: str
) -> dict[str, Any]:
    require_fleet_power(fleet, principal, "suspend agents")
    if principal.kind == "agent" and principal.name == name:
        raise Forbidden(f"agent {name!r} may not suspend itself; an operator can", field="name")
    row = _active_agent(ctx.conn, name, "name")
    if row.paused:
        raise Conflict(
            f"agent {name!r} is already paused: {row.paused_reason}", code="already_suspended"
        )
    shown = f"{SUSPENDED_BY}{principal.actor}: {reason}"
    ctx.conn.execute(
        update(A)
        .where(A.c.name == name)
        .values(paused=True, paused_reason=shown, liveness=Liveness.SUSPENDED.value)
    )
    data = {"agent": name, "reason": reason, "by": principal.actor}
    event = ctx.append(ev.AGENT_SUSPENDED, principal.actor, f"agent:{name}", data)
    _liveness_changed(ctx, principal.actor, name, row.liveness, Liveness.SUSPENDED.value)
    return ctx.seq_of(event.seq, data | {"liveness": Liveness.SUSPENDED.value})


def resume_agent(
    ctx: WriteContext, fleet: Fleet, principal: Principal, name: str, reason: str
) -> dict[str, Any]:
    require_fleet_power(fleet, principal, "resume agents")
    row = _active_agent(ctx.conn, name, "name")
    if not row.paused:
        raise Conflict(f"agent {name!r} is not suspended", code="not_suspended")
    if not is_suspension(row.paused_reason):
        raise Conflict(
            f"agent {name!r} is paused over budget ({row.paused_reason}); an operator resumes "
            f"it by raising its budget (PATCH /api/v1/agents/{name}/budget)",
            code="paused",
        )
    if principal.kind == "agent" and is_suspension(row.paused_reason, by_operator=True):
        raise Forbidden(
            f"agent {name!r} was suspended by an operator ({row.paused_reason}); only an "
            "operator resumes it",
            field="name",
        )
    liveness = current_liveness(
        fleet, name, row.last_heartbeat_at, row.reported_status, ctx.now, row.cooldown_until
    ).value
    ctx.conn.execute(
        update(A)
        .where(A.c.name == name)
        .values(paused=False, paused_reason=None, liveness=liveness)
    )
    data = {"agent": name, "reason": reason, "by": principal.actor}
    event = ctx.append(ev.AGENT_RESUMED, principal.actor, f"agent:{name}", data)
    _liveness_changed(ctx, principal.actor, name, row.liveness, liveness)
    return ctx.seq_of(event.seq, data | {"liveness": liveness})
