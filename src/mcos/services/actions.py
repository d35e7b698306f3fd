"""Asked before acting: the policy engine decides, and every decision is an event."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from mcos.contract.requests import ActionRequest
from mcos.contract.vocab import ActionKind
from mcos.domain import events as ev
from mcos.domain.approvals import ApprovalStatus
from mcos.errors import Conflict, Forbidden, InvalidInput
from mcos.fleet.schema import Fleet
from mcos.policy import Action, Allow, Decision, Deny, Grant, NeedsApproval, decide, needs_grants
from mcos.policy.local import action_of, request_for
from mcos.services.access import Impersonation, Principal, acting_agent
from mcos.services.approvals import active_grants, create_approval, effective_status
from mcos.services.mail_drafts import send_problem
from mcos.services.refusals import Refusal, refuse, refuse_duplicate
from mcos.storage import tables
from mcos.storage.writer import WriteContext


def frozen(action: Action) -> dict[str, Any]:
    """The exact action, as stored in an approval and compared when it is carried out.

    ``addresses``, ``port`` and ``target`` appear only when given, so an approval frozen
    before they existed still matches its action.
    """
    shown: dict[str, Any] = {
        "kind": action.kind,
        "command": action.command,
        "paths": list(action.paths),
        "host": action.host,
        "recipient": action.recipient,
        "amount_usd": action.amount_usd,
        "files_touched": action.files_touched,
    }
    if action.addresses:
        shown["addresses"] = list(action.addresses)
    if action.port is not None:
        shown["port"] = action.port
    if action.target is not None:
        shown["target"] = action.target
    if action.kind == ActionKind.EMAIL_SEND:
        shown["draft"] = action.draft
        shown["subject"] = action.subject
        shown["body_sha256"] = action.body_sha256
        shown["recipients"] = list(action.recipients)
    return shown


def check_action(
    ctx: WriteContext, fleet: Fleet, principal: Principal, body: ActionRequest
) -> dict[str, Any] | Refusal:
    """Decide whether the agent may do this, record the decision, and answer it."""
    try:
        name = acting_agent(fleet, principal, body.agent, what="that would act")
    except Impersonation as exc:
        return refuse(
            ctx,
            exc,
            ev.POLICY_DECIDED,
            principal.actor,
            f"agent:{principal.name}",
            {
                "agent": principal.name,
                "as_agent": exc.named,
                "outcome": "deny",
                "rule": "impersonation",
                "action": frozen(action_of(body)),
            },
        )
    agent = fleet.agent(name)
    assert agent is not None  # acting_agent checked it
    refuse_duplicate(ctx, principal.actor, body.id, "action")
    action = action_of(body)
    record = {"agent": name, "action": frozen(action), "reason": body.reason}
    subject = f"agent:{name}"
    if body.acted and action.kind == ActionKind.EMAIL_SEND:
        raise InvalidInput(
            "an email.send is always asked before it is sent (its draft is checked against "
            "what was approved), never reported after",
            field="acted",
        )
    if body.approval_id is not None:
        return _carry_out(ctx, principal, name, action, body.approval_id, record)
    if action.kind == ActionKind.EMAIL_SEND:
        problem = send_problem(ctx.conn, fleet, name, action)
        if problem is not None and "email.send" in agent.capabilities:
            return refuse(
                ctx,
                Forbidden(problem, code="policy_denied", field="draft"),
                ev.POLICY_DECIDED,
                principal.actor,
                subject,
                record | {"outcome": "deny", "rule": "email_draft", "reason": problem},
            )
    # Read only when they can matter: most questions are about a capability the agent has.
    grants = (
        tuple(
            Grant(g.agent, g.capability, g.expires_at, g.approval_id)
            for g in active_grants(ctx.conn, name, ctx.now)
        )
        if needs_grants(agent, action)
        else ()
    )
    decision = decide(request_for(fleet, agent, action, ctx.now, grants))
    outcome = {"outcome": decision.outcome, "reason": decision.reason}
    if body.acted:
        return _acted(ctx, principal, subject, record | outcome, decision, body.id)
    if isinstance(decision, Deny):
        error = Forbidden(decision.reason, code="policy_denied", field="kind")
        return refuse(
            ctx,
            error,
            ev.POLICY_DECIDED,
            principal.actor,
            subject,
            record | outcome | {"rule": decision.rule},
        )
    if isinstance(decision, NeedsApproval):
        approval = create_approval(
            ctx,
            kind="action",
            agent=name,
            subject=frozen(action),
            reason=body.reason or decision.reason,
            required=decision.approvers,
            requested_by=principal.actor,
        )
        ctx.append(
            ev.POLICY_DECIDED,
            principal.actor,
            subject,
            record | outcome | {"rule": decision.rule, "approval": approval["id"]},
        )
        return {
            "decision": decision.outcome,
            "reason": decision.reason,
            "approval_id": approval["id"],
            "approvers": list(decision.approvers),
        }
    assert isinstance(decision, Allow)
    ctx.append(ev.POLICY_DECIDED, principal.actor, subject, record | outcome)
    return {"decision": decision.outcome, "reason": decision.reason}


def _acted(
    ctx: WriteContext,
    principal: Principal,
    subject: str,
    record: dict[str, Any],
    decision: Decision,
    client_id: str | None,
) -> dict[str, Any] | Refusal:
    """Record an action the runtime decided alone and carried out (``acted``).

    The runtime decides so only where the answer is ``allow`` from the fleet file alone. If
    this decision differs, the fleet changed between the two: the record says so, with the rule,
    and the report is refused (the runner sets it aside and the agent's card shows it).
    """
    record = record | {"acted": True}
    if isinstance(decision, Allow):
        ctx.append(ev.POLICY_DECIDED, principal.actor, subject, record, client_id=client_id)
        return {"decision": decision.outcome, "reason": decision.reason}
    rule = decision.rule if isinstance(decision, Deny | NeedsApproval) else None
    error = Conflict(
        f"the runtime acted on its own 'allow', but the control plane's policy now answers "
        f"{decision.outcome}: {decision.reason} (the fleet changed in between)",
        code="policy_changed",
        field="kind",
    )
    return refuse(
        ctx,
        error,
        ev.POLICY_DECIDED,
        principal.actor,
        subject,
        record | {"rule": rule},
        client_id=client_id,
    )


def _carry_out(
    ctx: WriteContext,
    principal: Principal,
    agent: str,
    action: Action,
    approval_id: int,
    record: dict[str, Any],
) -> dict[str, Any] | Refusal:
    """An approved action, once: only the exact action approved, before it expires."""
    AP = tables.approvals
    row = ctx.conn.execute(select(AP).where(AP.c.id == approval_id)).first()
    subject = f"agent:{agent}"
    refused: Conflict | Forbidden | None = None
    if row is None or row.kind != "action" or row.agent != agent:
        refused = Forbidden(
            f"approval #{approval_id} is not an approval of an action by agent {agent!r}",
            field="approval_id",
        )
    elif row.subject != frozen(action):
        refused = Forbidden(
            f"the action differs from the one approval #{approval_id} "
            "approved; ask again for this one",
            field="approval_id",
        )
    else:
        status = effective_status(row, ctx.now)
        if status != ApprovalStatus.APPROVED:
            refused = Conflict(
                f"approval #{approval_id} is {status}, not approved",
                field="approval_id",
                code=f"approval_{status}",
            )
    if refused is not None:
        return refuse(
            ctx,
            refused,
            ev.POLICY_DECIDED,
            principal.actor,
            subject,
            record | {"outcome": "deny", "rule": "approval", "approval": approval_id},
        )
    result = {"carried_out_by": principal.actor}
    ctx.conn.execute(
        update(AP)
        .where(AP.c.id == approval_id)
        .values(status=ApprovalStatus.APPLIED.value, applied_at=ctx.now, outcome=result)
    )
    ctx.append(
        ev.APPROVAL_APPLIED,
        principal.actor,
        f"approval:{approval_id}",
        {"approval": approval_id} | result,
    )
    ctx.append(
        ev.POLICY_DECIDED,
        principal.actor,
        subject,
        record
        | {
            "outcome": "allow",
            "rule": "approval",
            "approval": approval_id,
            "reason": f"approved in #{approval_id}",
        },
    )
    return {
        "decision": "allow",
        "reason": f"approved in #{approval_id}",
        "approval_id": approval_id,
    }
