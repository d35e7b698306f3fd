"""Approvals: a frozen copy of an exact action, who must approve it, expiry and who sees it.

Deciding one, and what its kind does when it is settled, is ``approval_decisions``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from mcos.contract.requests import CapabilityRestore, isoformat
from mcos.contract.vocab import HUMAN
from mcos.domain import events as ev
from mcos.domain.approvals import ApprovalStatus
from mcos.errors import Conflict, InvalidInput, NotFound
from mcos.fleet.schema import KNOWN_CAPABILITIES, Fleet
from mcos.services.access import Principal, acting_agent
from mcos.services.mail_drafts import mail_for_approval
from mcos.services.refusals import refuse_duplicate
from mcos.storage import tables
from mcos.storage.writer import WriteContext

AP, AD, G = tables.approvals, tables.approval_decisions, tables.grants
APPROVAL_LIFETIME = timedelta(hours=24)


def effective_status(row: Any, now: datetime) -> str:
    """A pending approval past its expiry is expired, whether or not a sweep has marked it."""
    if row.status == ApprovalStatus.PENDING and row.expires_at <= now:
        return ApprovalStatus.EXPIRED.value
    return str(row.status)


def approval_view(conn: Connection, row: Any, now: datetime) -> dict[str, Any]:
    decisions = [
        {
            "party": d.party,
            "decider": d.decider,
            "decision": d.decision,
            "comment": d.comment,
            "ts": isoformat(d.ts),
        }
        for d in conn.execute(select(AD).where(AD.c.approval_id == row.id).order_by(AD.c.id))
    ]
    decided = {d["party"] for d in decisions}
    return {
        "id": row.id,
        "kind": row.kind,
        "agent": row.agent,
        "requested_by": row.requested_by,
        "subject": row.subject,
        "reason": row.reason,
        "required": row.required,
        "waiting_for": [p for p in row.required if p not in decided],
        "status": effective_status(row, now),
        "created_at": isoformat(row.created_at),
        "expires_at": isoformat(row.expires_at),
        "seconds_left": max(0, round((row.expires_at - now).total_seconds())),
        "decided_at": isoformat(row.decided_at),
        "applied_at": isoformat(row.applied_at),
        "outcome": row.outcome,
        "decisions": decisions,
        "mail": mail_for_approval(conn, row.subject),
    }


def create_approval(
    ctx: WriteContext,
    *,
    kind: str,
    agent: str | None,
    subject: dict[str, Any],
    reason: str,
    required: tuple[str, ...],
    requested_by: str,
    client_id: str | None = None,
) -> dict[str, Any]:
    """A new pending approval, or the one already waiting for exactly the same request (same
    kind, agent, asker and frozen subject), marked ``repeated``: asking twice is not two asks."""
    waiting = ctx.conn.execute(
        select(AP)
        .where(
            AP.c.status == ApprovalStatus.PENDING.value,
            AP.c.kind == kind,
            AP.c.agent == agent,
            AP.c.requested_by == requested_by,
            AP.c.expires_at > ctx.now,
        )
        .order_by(AP.c.id)
    ).all()
    for row in waiting:
        if row.subject == subject and list(row.required) == list(required):
            return approval_view(ctx.conn, row, ctx.now) | {"repeated": True}
    approval_id = ctx.conn.execute(
        insert(AP).values(
            created_at=ctx.now,
            requested_by=requested_by,
            agent=agent,
            kind=kind,
            subject=subject,
            reason=reason,
            required=list(required),
            status=ApprovalStatus.PENDING.value,
            expires_at=ctx.now + APPROVAL_LIFETIME,
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    row = ctx.conn.execute(select(AP).where(AP.c.id == approval_id)).one()
    view = approval_view(ctx.conn, row, ctx.now)
    ctx.append(
        ev.APPROVAL_REQUESTED,
        requested_by,
        f"approval:{approval_id}",
        view | subject_audience(subject),
        client_id=client_id,
    )
    return view


def subject_audience(subject: dict[str, Any]) -> dict[str, Any]:
    """Events about a private approval (an unconfirmed incident) carry its audience."""
    return {ev.VISIBLE_TO: subject[ev.VISIBLE_TO]} if ev.VISIBLE_TO in subject else {}


def request_restore(
    ctx: WriteContext, fleet: Fleet, principal: Principal, body: CapabilityRestore
) -> dict[str, Any]:
    """Ask for a revoked capability back; only an operator can approve, and it lapses."""
    refuse_duplicate(ctx, principal.actor, body.id, "approval request")
    name = acting_agent(fleet, principal, body.agent, what="whose capability to restore")
    agent = fleet.agent(name)
    assert agent is not None  # acting_agent checked it
    if body.capability not in KNOWN_CAPABILITIES:
        raise InvalidInput(
            f"unknown capability {body.capability!r}; known ones are "
            + ", ".join(sorted(KNOWN_CAPABILITIES)),
            field="capability",
        )
    if body.capability in agent.capabilities:
        raise Conflict(
            f"agent {name!r} already has {body.capability!r} in the fleet file", field="capability"
        )
    return create_approval(
        ctx,
        kind="capability.restore",
        agent=name,
        subject={"capability": body.capability, "minutes": body.minutes},
        reason=body.reason,
        required=(HUMAN,),
        requested_by=principal.actor,
        client_id=body.id,
    )


def load_approval(conn: Connection, approval_id: int) -> Any:
    """The approval's row; 404 naming ``approval_id`` when there is none."""
    row = conn.execute(select(AP).where(AP.c.id == approval_id)).first()
    if row is None:
        raise NotFound(f"no approval #{approval_id}", field="approval_id")
    return row


Viewer = tuple[str, str | None]
"""An agent reading approvals: its name and its fleet role."""


def _may_see(row: Any, viewer: Viewer | None) -> bool:
    """Operators (``None``) see every approval; an agent, those about itself and those waiting
    for its role's decision, within the approval's audience when it has one."""
    if viewer is None:
        return True
    name, role = viewer
    audience = row.subject.get(ev.VISIBLE_TO)
    if audience is not None:
        return name in audience
    return row.agent == name or (role is not None and role in row.required)


def get_approval(
    conn: Connection, approval_id: int, now: datetime, viewer: Viewer | None = None
) -> dict[str, Any]:
    """``viewer``: the agent asking, who sees only approvals meant for it (operators: ``None``)."""
    row = load_approval(conn, approval_id)
    if not _may_see(row, viewer):
        raise NotFound(f"no approval #{approval_id}", field="approval_id")
    return approval_view(conn, row, now)


def list_approvals(
    conn: Connection,
    now: datetime,
    *,
    status: str | None = None,
    limit: int = 200,
    viewer: Viewer | None = None,
) -> list[dict[str, Any]]:
    rows = conn.execute(select(AP).order_by(AP.c.id.desc()).limit(limit)).all()
    views = [approval_view(conn, r, now) for r in rows if _may_see(r, viewer)]
    return [v for v in views if status is None or v["status"] == status]


# Built once: every question an agent asks (``POST /actions``) reads its grants.
_ACTIVE_GRANTS = select(G).where(G.c.agent == bindparam("agent"), G.c.expires_at > bindparam("now"))


def active_grants(conn: Connection, agent: str, now: datetime) -> list[Any]:
    return list(conn.execute(_ACTIVE_GRANTS, {"agent": agent, "now": now}))


def expire_approvals(ctx: WriteContext) -> int:
    """Mark pending approvals past their expiry as expired, one event each."""
    rows = ctx.conn.execute(
        select(AP).where(AP.c.status == ApprovalStatus.PENDING.value, AP.c.expires_at <= ctx.now)
    ).all()
    for row in rows:
        ctx.conn.execute(
            update(AP)
            .where(AP.c.id == row.id)
            .values(status=ApprovalStatus.EXPIRED.value, decided_at=ctx.now)
        )
        ctx.append(
            ev.APPROVAL_EXPIRED,
            "system",
            f"approval:{row.id}",
            {"approval": row.id, "agent": row.agent, "kind": row.kind}
            | subject_audience(row.subject),
        )
    return len(rows)
