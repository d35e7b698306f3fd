"""Deciding an approval, and what each kind of approval does once it is settled.

``WHEN_SETTLED`` is the one place that says it: an approval's ``kind`` names the service that acts
on the outcome. This module sits above ``approvals`` and the services that ask for approvals
(``incidents``), so none of them imports another inside a function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select, update

from mcos.contract.requests import ApprovalDecision
from mcos.contract.vocab import HUMAN
from mcos.domain import events as ev
from mcos.domain.approvals import ApprovalStatus, human_refusal, outcome, party_of
from mcos.errors import Conflict, Forbidden
from mcos.fleet.schema import Fleet
from mcos.services import incidents
from mcos.services.access import Principal
from mcos.services.approvals import (
    AD,
    AP,
    G,
    approval_view,
    effective_status,
    load_approval,
    subject_audience,
)
from mcos.services.refusals import Refusal, refuse
from mcos.storage.writer import WriteContext

SettleHandler = Callable[[WriteContext, Fleet, Any, bool, str, str], None]
"""``(ctx, fleet, approval row, approved, actor, comment)``: act on a settled approval in the
unit that settled it."""


def decide_approval(
    ctx: WriteContext,
    fleet: Fleet,
    principal: Principal,
    approval_id: int,
    decision: str,
    body: ApprovalDecision,
) -> dict[str, Any] | Refusal:
    """Record one party's decision; approve when all have, deny on the first denial."""
    row = load_approval(ctx.conn, approval_id)
    subject = f"approval:{approval_id}"
    audit = {"approval": approval_id, "decision": decision} | subject_audience(row.subject)
    status = effective_status(row, ctx.now)
    if status != ApprovalStatus.PENDING:
        return refuse(
            ctx,
            Conflict(
                f"approval #{approval_id} is {status}; it can no longer be decided",
                code=f"approval_{status}",
            ),
            ev.APPROVAL_DECIDED,
            principal.actor,
            subject,
            audit,
        )
    # An agent never decides what it asked for or what concerns it. An operator may grant
    # what they asked for themselves: they are the human the approval waits for.
    if principal.kind == "agent" and (
        principal.actor == row.requested_by or principal.name == row.agent
    ):
        return refuse(
            ctx,
            Forbidden(f"{principal.actor} cannot decide its own request (approval #{approval_id})"),
            ev.APPROVAL_DECIDED,
            principal.actor,
            subject,
            audit,
        )
    config = fleet.agent(principal.name) if principal.kind == "agent" else None
    done = {
        d.party: d.decision
        for d in ctx.conn.execute(
            select(AD.c.party, AD.c.decision).where(AD.c.approval_id == approval_id)
        )
    }
    party = party_of(principal.kind, config.role if config else None, list(row.required), set(done))
    if party is None:
        who = (
            "an operator"
            if principal.kind == "operator"
            else f"role {config.role if config else '?'!r}"
        )
        return refuse(
            ctx,
            Forbidden(
                f"{who} is not among the approvers of #{approval_id} "
                f"(needs: {', '.join(row.required)})"
            ),
            ev.APPROVAL_DECIDED,
            principal.actor,
            subject,
            audit,
        )
    human_problem = (
        human_refusal(principal.name, principal.role, _named_human(row))
        if party == HUMAN and principal.kind == "operator"
        else None
    )
    if human_problem is not None:
        return refuse(
            ctx,
            Forbidden(f"{human_problem} (approval #{approval_id})"),
            ev.APPROVAL_DECIDED,
            principal.actor,
            subject,
            audit,
        )
    if party in done:
        raise Conflict(
            f"the {party!r} party has already decided approval #{approval_id}", field="decision"
        )
    record_decision(ctx, fleet, row, party, decision, body.comment, principal.actor)
    return approval_view(ctx.conn, load_approval(ctx.conn, approval_id), ctx.now)


def _named_human(row: Any) -> str | None:
    """The person an incident's escalation rule named when it was raised (only the control plane
    writes an incident's approval, so no agent can name one)."""
    if row.kind != "incident" or not isinstance(row.subject, dict):
        return None
    named = row.subject.get("human")
    return named if isinstance(named, str) else None


def record_decision(
    ctx: WriteContext,
    fleet: Fleet,
    row: Any,
    party: str,
    decision: str,
    comment: str,
    actor: str,
    *,
    decider: str | None = None,
) -> None:
    """Record one required party's decision on a pending approval and settle it if it is done.

    ``actor`` is who the events name; ``decider`` (default: the actor) is recorded as deciding
    for ``party`` — ``committee:N`` when a committee decides its part of a gated approval.
    """
    approval_id = row.id
    subject = f"approval:{approval_id}"
    ctx.conn.execute(
        insert(AD).values(
            approval_id=approval_id,
            party=party,
            decider=decider or actor,
            decision=decision,
            comment=comment,
            ts=ctx.now,
        )
    )
    ctx.append(
        ev.APPROVAL_DECIDED,
        actor,
        subject,
        {
            "approval": approval_id,
            "agent": row.agent,
            "decision": decision,
            "party": party,
            "comment": comment,
        }
        | subject_audience(row.subject),
    )
    done = {
        d.party: d.decision
        for d in ctx.conn.execute(
            select(AD.c.party, AD.c.decision).where(AD.c.approval_id == approval_id)
        )
    }
    result = outcome(list(row.required), done)
    if result == ApprovalStatus.PENDING:
        return
    ctx.conn.execute(
        update(AP).where(AP.c.id == approval_id).values(status=result.value, decided_at=ctx.now)
    )
    kind = ev.APPROVAL_APPROVED if result == ApprovalStatus.APPROVED else ev.APPROVAL_DENIED
    ctx.append(
        kind,
        actor,
        subject,
        {"approval": approval_id, "agent": row.agent} | subject_audience(row.subject),
    )
    settle = WHEN_SETTLED.get(row.kind)
    if settle is not None:
        settle(ctx, fleet, row, result == ApprovalStatus.APPROVED, actor, comment)


def grant_restored_capability(
    ctx: WriteContext, fleet: Fleet, row: Any, approved: bool, actor: str, comment: str
) -> None:
    """An approved ``capability.restore``: the agent has the capability back until it lapses."""
    if not approved:
        return
    capability, minutes = row.subject["capability"], float(row.subject["minutes"])
    expires_at = ctx.now + timedelta(minutes=minutes)
    ctx.conn.execute(
        insert(G).values(
            agent=row.agent,
            capability=capability,
            approval_id=row.id,
            starts_at=ctx.now,
            expires_at=expires_at,
        )
    )
    result = {"granted": capability, "agent": row.agent, "until": expires_at.isoformat()}
    ctx.conn.execute(
        update(AP)
        .where(AP.c.id == row.id)
        .values(status=ApprovalStatus.APPLIED.value, applied_at=ctx.now, outcome=result)
    )
    ctx.append(ev.GRANT_CREATED, actor, f"agent:{row.agent}", result | {"approval": row.id})
    ctx.append(ev.APPROVAL_APPLIED, actor, f"approval:{row.id}", {"approval": row.id} | result)


WHEN_SETTLED: Mapping[str, SettleHandler] = {
    "capability.restore": grant_restored_capability,
    "incident": incidents.on_approval_decided,
}
"""What happens when an approval of each kind is approved or denied. A kind not listed (an
action asked before acting) needs nothing more: the agent reads the outcome and acts itself."""
