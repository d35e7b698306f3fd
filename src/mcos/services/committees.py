"""Committees: a decision put to named agents (and the operator), their positions and minutes.

The operator or the fleet's orchestrator opens one; each member agent is sent a directive to
give its position. Every position is final (a second one is refused), and the committee is
decided as soon as its outcome is certain (``mcos.domain.committee``). The outcome and the
minutes are recorded with the decision; a committee opened on a pending approval is one of its
required parties (``committee:N``), so the approval waits for it and is denied if it rejects.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from mcos.contract.requests import CommitteeOpen, MessageIn, PositionIn, isoformat
from mcos.contract.vocab import MessageKind
from mcos.domain import events as ev
from mcos.domain.approvals import ApprovalStatus, committee_party
from mcos.domain.committee import (
    HUMAN_VOTER,
    CommitteeStatus,
    Decision,
    Outcome,
    Rule,
    decide,
    positions_allowed,
)
from mcos.errors import Conflict, Forbidden, InvalidInput, NotFound
from mcos.fleet.schema import Fleet
from mcos.services.access import Principal, require_fleet_power
from mcos.services.approval_decisions import record_decision
from mcos.services.approvals import effective_status
from mcos.services.messages import send_message
from mcos.services.refusals import Refusal, refuse
from mcos.storage import tables
from mcos.storage.writer import WriteContext

C, CP, AP = tables.committees, tables.committee_positions, tables.approvals


def voters_of(row: Any) -> list[str]:
    return [*row.members, *([HUMAN_VOTER] if row.human else [])]


def _positions(conn: Connection, committee_id: int) -> list[Any]:
    return list(conn.execute(select(CP).where(CP.c.committee_id == committee_id).order_by(CP.c.id)))


def _decision(row: Any, positions: list[Any]) -> Decision:
    given = {p.member: p.position for p in positions}
    return decide(Rule(row.rule), row.quorum, voters_of(row), given)


def committee_view(conn: Connection, row: Any) -> dict[str, Any]:
    positions = _positions(conn, row.id)
    decision = _decision(row, positions)
    given = {p.member for p in positions}
    return {
        "id": row.id,
        "title": row.title,
        "question": row.question,
        "opened_by": row.opened_by,
        "created_at": isoformat(row.created_at),
        "members": row.members,
        "human": row.human,
        "voters": voters_of(row),
        "quorum": row.quorum,
        "rule": row.rule,
        "status": row.status,
        "outcome": row.outcome,
        "explanation": row.explanation or decision.explanation,
        "tally": decision.tally.as_dict(),
        "positions": [
            {
                "member": p.member,
                "position": p.position,
                "reasons": p.reasons,
                "ts": isoformat(p.ts),
                "given_by": p.given_by,
            }
            for p in positions
        ],
        "waiting_for": (
            [v for v in voters_of(row) if v not in given]
            if row.status == CommitteeStatus.OPEN
            else []
        ),
        "minutes": row.minutes,
        "decided_at": isoformat(row.decided_at),
        "approval_id": row.approval_id,
        "task_id": row.task_id,
    }


def _load(conn: Connection, committee_id: int) -> Any:
    row = conn.execute(select(C).where(C.c.id == committee_id)).first()
    if row is None:
        raise NotFound(f"no committee #{committee_id}", field="committee_id")
    return row


def _may_read(row: Any, principal: Principal) -> bool:
    if principal.is_operator:
        return True
    return principal.name in row.members or principal.actor == row.opened_by


def open_committee(
    ctx: WriteContext, fleet: Fleet, principal: Principal, body: CommitteeOpen
) -> dict[str, Any]:
    """Open a committee, gate its approval if it names one, and tell each member agent."""
    require_fleet_power(fleet, principal, "open a committee")
    for i, member in enumerate(body.members):
        if fleet.agent(member) is None:
            raise InvalidInput(f"no agent named {member!r} in the fleet", field=f"members[{i}]")
        if member in body.members[:i]:
            raise InvalidInput(f"{member!r} is named twice", field=f"members[{i}]")
    voters = len(body.members) + (1 if body.human else 0)
    quorum = body.quorum if body.quorum is not None else voters // 2 + 1
    if not 1 <= quorum <= voters:
        raise InvalidInput(
            f"quorum {quorum} is out of range: it must be between 1 and the {voters} voters",
            field="quorum",
        )
    approval = None
    if body.approval_id is not None:
        if not principal.is_operator:
            # A committee's "no" denies the approval: an agent must not settle, through a
            # committee of its choosing, what it could not decide itself.
            raise Forbidden(
                "only an operator may put an approval to a committee", field="approval_id"
            )
        approval = ctx.conn.execute(select(AP).where(AP.c.id == body.approval_id)).first()
        if approval is None:
            raise InvalidInput(f"no approval #{body.approval_id}", field="approval_id")
        status = effective_status(approval, ctx.now)
        if status != ApprovalStatus.PENDING:
            raise Conflict(
                f"approval #{body.approval_id} is {status}; a committee can gate only a "
                "pending approval",
                field="approval_id",
            )
    if (
        body.task_id is not None
        and ctx.conn.execute(
            select(tables.tasks.c.id).where(tables.tasks.c.id == body.task_id)
        ).first()
        is None
    ):
        raise InvalidInput(f"no task #{body.task_id}", field="task_id")
    committee_id = ctx.conn.execute(
        insert(C).values(
            created_at=ctx.now,
            opened_by=principal.actor,
            title=body.title,
            question=body.question,
            members=list(body.members),
            human=body.human,
            quorum=quorum,
            rule=body.rule,
            status=CommitteeStatus.OPEN.value,
            approval_id=body.approval_id,
            task_id=body.task_id,
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    if approval is not None:
        ctx.conn.execute(
            update(AP)
            .where(AP.c.id == approval.id)
            .values(required=[*approval.required, committee_party(committee_id)])
        )
    ctx.append(
        ev.COMMITTEE_OPENED,
        principal.actor,
        f"committee:{committee_id}",
        {
            "committee": committee_id,
            "title": body.title,
            "question": body.question,
            "members": list(body.members),
            "human": body.human,
            "quorum": quorum,
            "rule": body.rule,
            "approval_id": body.approval_id,
            "task_id": body.task_id,
        },
    )
    choices = "|".join(p.value for p in positions_allowed(Rule(body.rule)))
    for member in body.members:
        if principal.kind == "agent" and member == principal.name:
            continue  # the opener knows
        directive = (
            f"Committee #{committee_id}: {body.title}\n\n{body.question}\n\n"
            f"Give your position with the give_position tool (committee_id={committee_id}, "
            f"position {choices}, and your reasons). Rule: {body.rule}, quorum {quorum} of "
            f"{voters} voters; your position is final."
        )
        send_message(
            ctx,
            fleet,
            principal,
            MessageIn(to=member, kind=MessageKind.DIRECTIVE, body=directive, task_id=body.task_id),
        )
    return committee_view(ctx.conn, _load(ctx.conn, committee_id))


def give_position(
    ctx: WriteContext, fleet: Fleet, principal: Principal, committee_id: int, body: PositionIn
) -> dict[str, Any] | Refusal:
    """One voter's final position: an agent as itself, an operator as ``human``."""
    row = _load(ctx.conn, committee_id)
    subject = f"committee:{committee_id}"
    if principal.kind == "agent":
        if body.member not in (None, principal.name):
            return refuse(
                ctx,
                Forbidden(
                    f"agent {principal.name!r}'s token cannot give a position as {body.member!r}",
                    field="member",
                ),
                ev.COMMITTEE_POSITION_GIVEN,
                principal.actor,
                subject,
                {"committee": committee_id, "member": body.member},
            )
        member = principal.name
    else:
        member = body.member or HUMAN_VOTER
        if member != HUMAN_VOTER:
            raise Forbidden(
                f"an operator gives the committee's 'human' position, not agent {member!r}'s",
                field="member",
            )
    if member not in voters_of(row):
        who = "the operator has no vote" if member == HUMAN_VOTER else f"{member!r} is not a member"
        raise Forbidden(
            f"{who} on committee #{committee_id} (voters: {', '.join(voters_of(row))})",
            field="member",
        )
    if row.status != CommitteeStatus.OPEN:
        raise Conflict(
            f"committee #{committee_id} is {row.status} ({row.outcome or 'no outcome'}); "
            "it takes no more positions",
            field="committee_id",
            code="committee_closed",
        )
    allowed = positions_allowed(Rule(row.rule))
    if body.position not in allowed:
        raise InvalidInput(
            f"{body.position!r} is only a position under the 'veto' rule; this committee's rule "
            f"is {row.rule!r}: give one of {', '.join(allowed)}",
            field="position",
        )
    if not body.reasons.strip():
        raise InvalidInput("give the reasons for your position", field="reasons")
    if ctx.conn.execute(
        select(CP.c.id).where(CP.c.committee_id == committee_id, CP.c.member == member)
    ).first():
        raise Conflict(
            f"{member!r} has already given a position on committee #{committee_id}; "
            "a position is final",
            field="member",
            code="already_given",
        )
    ctx.conn.execute(
        insert(CP).values(
            committee_id=committee_id,
            member=member,
            position=body.position,
            reasons=body.reasons.strip(),
            ts=ctx.now,
            given_by=principal.actor,
        )
    )
    ctx.append(
        ev.COMMITTEE_POSITION_GIVEN,
        principal.actor,
        subject,
        {
            "committee": committee_id,
            "title": row.title,
            "member": member,
            "position": body.position,
            "reasons": body.reasons.strip(),
        },
    )
    decision = _decision(row, _positions(ctx.conn, committee_id))
    if decision.status != CommitteeStatus.OPEN:
        _record_decision(ctx, fleet, row, decision, principal.actor)
    return committee_view(ctx.conn, _load(ctx.conn, committee_id))


def _record_decision(
    ctx: WriteContext, fleet: Fleet, row: Any, decision: Decision, actor: str
) -> None:
    outcome = decision.outcome.value if decision.outcome else None
    ctx.conn.execute(
        update(C)
        .where(C.c.id == row.id)
        .values(
            status=decision.status.value,
            outcome=outcome,
            explanation=decision.explanation,
            decided_at=ctx.now,
        )
    )
    decided = _load(ctx.conn, row.id)
    minutes = minutes_of(decided, _positions(ctx.conn, row.id), decision)
    ctx.conn.execute(update(C).where(C.c.id == row.id).values(minutes=minutes))
    ctx.append(
        ev.COMMITTEE_DECIDED,
        actor,
        f"committee:{row.id}",
        {
            "committee": row.id,
            "title": row.title,
            "status": decision.status.value,
            "outcome": outcome,
            "explanation": decision.explanation,
            "tally": decision.tally.as_dict(),
            "approval_id": row.approval_id,
        },
    )
    if row.approval_id is None:
        return
    approval = ctx.conn.execute(select(AP).where(AP.c.id == row.approval_id)).one()
    if effective_status(approval, ctx.now) != ApprovalStatus.PENDING:
        return  # decided, denied or lapsed meanwhile: the minutes still say what we concluded
    verdict = "approve" if decision.outcome == Outcome.APPROVED else "deny"
    record_decision(
        ctx,
        fleet,
        approval,
        committee_party(row.id),
        verdict,
        f"committee #{row.id}: {decision.explanation}",
        actor,
        decider=committee_party(row.id),
    )


def _quote(text: str) -> str:
    return "\n".join(f"  {line}" if i else line for i, line in enumerate(text.splitlines()))


def minutes_of(row: Any, positions: list[Any], decision: Decision) -> str:
    """The Markdown record: question, each voter's position and reasons, tally, rule, outcome."""
    t = decision.tally
    by_member = {p.member: p for p in positions}
    lines = [
        f"# Committee #{row.id}: {row.title}",
        "",
        f"**Question.** {row.question}",
        "",
        f"Opened by {row.opened_by} at {isoformat(row.created_at)}; rule **{row.rule}**, "
        f"quorum {row.quorum} of {t.voters} voters (abstentions do not count towards it).",
        "",
        "## Positions",
        "",
    ]
    for voter in voters_of(row):
        p = by_member.get(voter)
        if p is None:
            lines.append(f"- **{voter}**: no position")
        else:
            by = f" ({p.given_by})" if voter == HUMAN_VOTER and p.given_by else ""
            lines.append(f"- **{voter}**{by}: {p.position}. {_quote(p.reasons)}")
    lines += [
        "",
        "## Tally",
        "",
        f"{t.for_} for, {t.against} against, {t.veto} veto, {t.abstain} abstaining; "
        f"{t.given} of {t.voters} positions given.",
        "",
        "## Outcome",
        "",
    ]
    if decision.outcome is None:
        lines.append(f"**No quorum**: {decision.explanation}.")
    else:
        lines.append(f"**{decision.outcome.value.capitalize()}**: {decision.explanation}.")
    lines.append(f"Decided at {isoformat(row.decided_at)}.")
    if row.approval_id is not None:
        lines.append(f"This committee gates approval #{row.approval_id}.")
    return "\n".join(lines) + "\n"


def get_committee(conn: Connection, principal: Principal, committee_id: int) -> dict[str, Any]:
    row = _load(conn, committee_id)
    if not _may_read(row, principal):
        raise NotFound(f"no committee #{committee_id}", field="committee_id")
    return committee_view(conn, row)


def list_committees(
    conn: Connection, principal: Principal, *, status: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Newest first; an agent sees those it is a member of or opened (filtered before the
    limit, so an agent's older committees are not crowded out by others')."""
    query = select(C).order_by(C.c.id.desc())
    if status is not None:
        query = query.where(C.c.status == status)
    readable = (r for r in conn.execute(query) if _may_read(r, principal))
    return [committee_view(conn, r) for r in itertools.islice(readable, limit)]


def decided_between(conn: Connection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Committees decided (or closed without quorum) in ``[start, end)``, oldest first."""
    rows = conn.execute(
        select(C)
        .where(C.c.decided_at >= start, C.c.decided_at < end)
        .order_by(C.c.decided_at, C.c.id)
    )
    return [
        {
            "id": r.id,
            "title": r.title,
            "status": r.status,
            "outcome": r.outcome,
            "explanation": r.explanation,
            "tally": _decision(r, _positions(conn, r.id)).tally.as_dict(),
            "decided_at": isoformat(r.decided_at),
            "approval_id": r.approval_id,
        }
        for r in rows
    ]


def open_committees(conn: Connection) -> list[dict[str, Any]]:
    """Every open committee, oldest first: the dashboard's inbox (operators read them all)."""
    rows = conn.execute(select(C).where(C.c.status == CommitteeStatus.OPEN.value).order_by(C.c.id))
    return [committee_view(conn, r) for r in rows]
