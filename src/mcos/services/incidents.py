"""Incidents and the escalation table: nothing unconfirmed reaches anyone but its confirmers.

The seed's Sentinel injected a false P0 into all eight heartbeats at once. Here an incident is
raised into the escalation queue; the fleet file's table says who must confirm each severity
(P3: nobody, it is only logged for its reporter). Until confirmed, the incident and every event
about it are visible only to the reporter, its confirmers and operators.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, or_, select, update

from mcos.contract.requests import IncidentIn, isoformat
from mcos.domain import events as ev
from mcos.errors import NotFound
from mcos.fleet.schema import OPERATOR, Fleet
from mcos.services.access import Impersonation, Principal, acting_agent
from mcos.services.approvals import create_approval
from mcos.services.refusals import Refusal, refuse, refuse_duplicate
from mcos.storage import tables
from mcos.storage.together import PipelineSelect, run_together
from mcos.storage.writer import WriteContext

INC, AD = tables.incidents, tables.approval_decisions


def incident_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "ts": isoformat(row.ts),
        "reporter": row.reporter,
        "severity": row.severity,
        "title": row.title,
        "body": row.body,
        "status": row.status,
        "reach": row.reach,
        "approval_id": row.approval_id,
        "resolved_at": isoformat(row.resolved_at),
        "resolved_by": row.resolved_by,
        "resolution": row.resolution,
    }


def confirmers(fleet: Fleet, roles: tuple[str, ...], reporter: str) -> list[str]:
    return sorted(a.name for a in fleet.agents if a.role in roles and a.name != reporter)


def audience(fleet: Fleet, reporter: str, reach: str) -> list[str] | None:
    """Who hears of a confirmed incident: everyone (``None``), the supervisor, or the reporter."""
    if reach == "fleet":
        return None
    names = [reporter]
    agent = fleet.agent(reporter)
    if reach == "supervisor" and agent is not None and agent.supervisor != OPERATOR:
        names.append(agent.supervisor)
    return names


def raise_incident(
    ctx: WriteContext, fleet: Fleet, principal: Principal, body: IncidentIn
) -> dict[str, Any] | Refusal:
    refuse_duplicate(ctx, principal.actor, body.id, "incident")
    try:
        reporter = acting_agent(fleet, principal, body.agent, what="that reports it")
    except Impersonation as exc:
        return refuse(
            ctx,
            exc,
            ev.INCIDENT_RAISED,
            principal.actor,
            f"agent:{principal.name}",
            {"as_agent": exc.named, ev.VISIBLE_TO: [principal.name]},
            client_id=body.id,
        )
    rule = fleet.escalation[body.severity]
    status = (
        ("logged" if rule.reach == "self" else "confirmed")
        if not rule.confirm_by
        else "unconfirmed"
    )
    incident_id = ctx.conn.execute(
        insert(INC).values(
            ts=ctx.now,
            reporter=reporter,
            severity=body.severity,
            title=body.title,
            body=body.body,
            status=status,
            reach=rule.reach,
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    if status == "unconfirmed":
        hidden = [reporter, *confirmers(fleet, rule.confirm_by, reporter)]
        approval = create_approval(
            ctx,
            kind="incident",
            agent=reporter,
            subject={
                "incident": incident_id,
                "severity": body.severity,
                "title": body.title,
                ev.VISIBLE_TO: hidden,
            }
            | ({"human": rule.human} if rule.human else {}),
            reason=f"{body.severity} from {reporter}: {body.title}",
            required=rule.confirm_by,
            requested_by=principal.actor,
        )
        ctx.conn.execute(
            update(INC).where(INC.c.id == incident_id).values(approval_id=approval["id"])
        )
        seen_by: list[str] | None = hidden
    else:
        seen_by = audience(fleet, reporter, rule.reach)
    row = ctx.conn.execute(select(INC).where(INC.c.id == incident_id)).one()
    view = incident_view(row)
    data = view | ({ev.VISIBLE_TO: seen_by} if seen_by is not None else {})
    ctx.append(
        ev.INCIDENT_RAISED, principal.actor, f"incident:{incident_id}", data, client_id=body.id
    )
    return view


def on_approval_decided(
    ctx: WriteContext, fleet: Fleet, approval: Any, approved: bool, actor: str, comment: str
) -> None:
    """An incident's approval ended: confirmed (it reaches its audience) or dismissed."""
    row = ctx.conn.execute(select(INC).where(INC.c.approval_id == approval.id)).first()
    if row is None:
        return
    if approved:
        ctx.conn.execute(
            update(INC)
            .where(INC.c.id == row.id)
            .values(status="confirmed", resolved_at=ctx.now, resolved_by=actor)
        )
        seen_by = audience(fleet, row.reporter, row.reach)
        kind = ev.INCIDENT_CONFIRMED
    else:
        ctx.conn.execute(
            update(INC)
            .where(INC.c.id == row.id)
            .values(status="dismissed", resolved_at=ctx.now, resolved_by=actor, resolution=comment)
        )
        seen_by = approval.subject.get(ev.VISIBLE_TO)
        kind = ev.INCIDENT_DISMISSED
    view = incident_view(ctx.conn.execute(select(INC).where(INC.c.id == row.id)).one())
    ctx.append(
        kind,
        actor,
        f"incident:{row.id}",
        view | ({ev.VISIBLE_TO: seen_by} if seen_by is not None else {}),
    )


def visible(fleet: Fleet, row: Any, agent: str) -> bool:
    """Whether an agent may see this incident at all (outside the escalation queue)."""
    if row.reporter == agent:
        return True
    if row.status == "confirmed":
        seen_by = audience(fleet, row.reporter, row.reach)
        return seen_by is None or agent in seen_by
    rule = fleet.escalation[row.severity]
    return row.status == "unconfirmed" and agent in confirmers(fleet, rule.confirm_by, row.reporter)


# What a heartbeat answer needs, in one query: confirmed incidents after the lowest cursor, and
# every unconfirmed one (the confirmations asked of the agent).
# (A PipelineSelect, so that the heartbeat reads it in one round trip with its other reads.)
FOR_AGENTS = PipelineSelect.build(
    lambda _among: (
        select(INC)
        .where(
            or_(
                and_(INC.c.id > bindparam("since"), INC.c.status == "confirmed"),
                INC.c.status == "unconfirmed",
            )
        )
        .order_by(INC.c.id)
    )
)


def for_agents(
    conn: Connection,
    fleet: Fleet,
    cursors: dict[str, int],
    limit: int = 50,
    *,
    rows: list[Any] | None = None,
) -> dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Per agent: confirmed incidents after its cursor that reach it, and those it must confirm.

    Two queries whatever the number of agents (heartbeats come in bulk); one if the caller
    read ``FOR_AGENTS`` (``since``: the lowest cursor) and gives its ``rows``.
    """
    if rows is None:
        since = min(cursors.values(), default=0)
        rows = run_together(conn, [(FOR_AGENTS, {"since": since})])[0].rows
    confirmed: list[Any] = []
    pending: list[Any] = []
    for row in rows:
        (confirmed if row.status == "confirmed" else pending).append(row)
    decided: dict[int, set[str]] = {}
    if pending:
        for d in conn.execute(
            select(AD.c.approval_id, AD.c.party).where(
                AD.c.approval_id.in_([r.approval_id for r in pending])
            )
        ):
            decided.setdefault(d.approval_id, set()).add(d.party)
    out: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    for agent, cursor in cursors.items():
        reaching = [
            incident_view(r)
            for r in confirmed
            if r.id > cursor and r.reporter != agent and visible(fleet, r, agent)
        ][:limit]
        config = fleet.agent(agent)
        waiting = [
            incident_view(r)
            for r in pending
            if config is not None
            and r.reporter != agent
            and config.role in fleet.escalation[r.severity].confirm_by
            and config.role not in decided.get(r.approval_id, set())
        ][:limit]
        out[agent] = (reaching, waiting)
    return out


def list_incidents(
    conn: Connection, fleet: Fleet, principal: Principal, *, status: str | None = None
) -> list[dict[str, Any]]:
    query = select(INC).order_by(INC.c.id.desc()).limit(500)
    if status is not None:
        query = query.where(INC.c.status == status)
    rows = conn.execute(query).all()
    if principal.kind == "agent":
        rows = [r for r in rows if visible(fleet, r, principal.name)]
    return [incident_view(r) for r in rows]


def get_incident(
    conn: Connection, fleet: Fleet, principal: Principal, incident_id: int
) -> dict[str, Any]:
    row = conn.execute(select(INC).where(INC.c.id == incident_id)).first()
    if row is None or (principal.kind == "agent" and not visible(fleet, row, principal.name)):
        raise NotFound(f"no incident #{incident_id}", field="incident_id")
    return incident_view(row)
