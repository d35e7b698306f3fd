"""Drafts, and sending exactly what was approved.

A draft is stored whole and never edited: a change is a new draft. Its hash
(:meth:`mcos.mail.message.OutgoingMail.body_sha256`: sender, recipients, subject, body, the mail
replied to) is computed here, from the stored draft. Sending is the ``email.send`` action, asked
with the draft's id, recipients, subject and hash; :func:`send_problem` refuses an action that
does not describe its draft exactly, so an approver approves the message they are shown, and the
approval freezes it. The runtime sends the draft it reads back from here only after the hash
matches the approved one, and reports the send with that hash (:func:`record_sent`): a send of
anything else is refused and on the record.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from mcos.contract.requests import isoformat
from mcos.contract.vocab import ActionKind
from mcos.domain import events as ev
from mcos.domain.approvals import ApprovalStatus
from mcos.errors import Conflict, Forbidden, InvalidInput, NotFound
from mcos.fleet.schema import Fleet
from mcos.mail.message import OutgoingMail
from mcos.mail.schemas import DraftIn, SendFailedIn, SentIn
from mcos.policy.actions import Action
from mcos.services.access import Principal
from mcos.services.mail import MM, owned_account
from mcos.services.refusals import Refusal, refuse
from mcos.storage import tables
from mcos.storage.writer import WriteContext

DR = tables.mail_drafts


def outgoing(fleet: Fleet, row: Any, conn: Connection) -> OutgoingMail:
    """The message a draft row sends, as hashed and as sent."""
    account = fleet.mail.account(row.account)
    sender = account.address if account is not None else ""
    in_reply_to = ""
    if row.reply_to is not None:
        replied = conn.execute(select(MM.c.message_id).where(MM.c.id == row.reply_to)).first()
        in_reply_to = replied.message_id if replied is not None else ""
    return OutgoingMail(
        sender=sender,
        to=tuple(row.recipients.get("to", [])),
        cc=tuple(row.recipients.get("cc", [])),
        subject=row.subject,
        body=row.body,
        in_reply_to=in_reply_to,
    )


def draft_view(fleet: Fleet, conn: Connection, row: Any) -> dict[str, Any]:
    mail = outgoing(fleet, row, conn)
    return {
        "id": row.id,
        "account": row.account,
        "agent": row.agent,
        "reply_to": row.reply_to,
        "from": mail.sender,
        "to": list(mail.to),
        "cc": list(mail.cc),
        "subject": row.subject,
        "body": row.body,
        "in_reply_to": mail.in_reply_to,
        "body_sha256": row.body_sha256,
        "status": row.status,
        "draft_ref": row.draft_ref,
        "approval_id": row.approval_id,
        "sent_ref": row.sent_ref,
        "sent_at": isoformat(row.sent_at) if row.sent_at else None,
        "error": row.error,
        "created_at": isoformat(row.created_at),
    }


def create_draft(
    ctx: WriteContext, fleet: Fleet, principal: Principal, body: DraftIn
) -> dict[str, Any]:
    account = owned_account(fleet, principal, body.account, "draft")
    conn = ctx.conn
    to = list(body.to)
    in_reply_to = ""
    if body.reply_to is not None:
        replied = conn.execute(select(MM).where(MM.c.id == body.reply_to)).first()
        if replied is None or replied.account != account.name:
            raise InvalidInput(
                f"no mail #{body.reply_to} in account {account.name!r} to reply to",
                field="reply_to",
            )
        to = to or [replied.sender]
        in_reply_to = replied.message_id
    mail = OutgoingMail(
        sender=account.address,
        to=tuple(to),
        cc=tuple(body.cc),
        subject=body.subject,
        body=body.body,
        in_reply_to=in_reply_to,
    )
    draft_id = conn.execute(
        insert(DR).values(
            account=account.name,
            agent=account.owner,
            reply_to=body.reply_to,
            recipients={"to": to, "cc": list(body.cc)},
            subject=body.subject,
            body=body.body,
            body_sha256=mail.body_sha256(),
            status="draft",
            draft_ref=body.draft_ref,
            created_at=ctx.now,
            updated_at=ctx.now,
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    row = conn.execute(select(DR).where(DR.c.id == draft_id)).one()
    view = draft_view(fleet, conn, row)
    ctx.append(
        ev.MAIL_DRAFTED,
        principal.actor,
        f"mail:{account.name}",
        {k: view[k] for k in ("id", "account", "to", "cc", "subject", "reply_to", "body_sha256")},
    )
    return view


def get_draft(
    conn: Connection, fleet: Fleet, principal: Principal, draft_id: int
) -> dict[str, Any]:
    row = conn.execute(select(DR).where(DR.c.id == draft_id)).first()
    if row is None or not (principal.is_operator or row.agent == principal.name):
        raise NotFound(f"no draft #{draft_id}", field="draft_id")
    return draft_view(fleet, conn, row)


def list_drafts(
    conn: Connection, fleet: Fleet, principal: Principal, status: str | None = None
) -> list[dict[str, Any]]:
    query = select(DR).order_by(DR.c.id.desc()).limit(200)
    if not principal.is_operator:
        query = query.where(DR.c.agent == principal.name)
    if status is not None:
        query = query.where(DR.c.status == status)
    return [draft_view(fleet, conn, r) for r in conn.execute(query)]


def send_problem(conn: Connection, fleet: Fleet, agent: str, action: Action) -> str | None:
    """Why an ``email.send`` action does not describe its draft exactly, or ``None``."""
    if action.draft is None:
        return (
            "email.send names no draft; save the message as a draft first (draft_reply) and "
            "send that draft"
        )
    row = conn.execute(select(DR).where(DR.c.id == action.draft)).first()
    if row is None or row.agent != agent:
        return f"draft #{action.draft} is not a draft of agent {agent!r}"
    account = fleet.mail.account(row.account)
    if account is None or "send" not in account.may or account.owner != agent:
        return f"agent {agent!r} may not send from mail account {row.account!r}"
    if row.status != "draft":
        return f"draft #{action.draft} is {row.status}; a draft is sent once"
    mail = outgoing(fleet, row, conn)
    if action.body_sha256 != row.body_sha256 or action.subject != mail.subject:
        return f"the action's hash or subject differs from draft #{action.draft}'s"
    recipients = mail.recipients()
    if sorted(action.recipients) != sorted(recipients) or action.recipient not in recipients:
        return f"the action's recipients differ from draft #{action.draft}'s"
    return None


def mail_for_approval(conn: Connection, subject: dict[str, Any]) -> dict[str, Any] | None:
    """The draft an ``email.send`` approval is about, for the approver to read."""
    draft = subject.get("draft")
    if subject.get("kind") != ActionKind.EMAIL_SEND or not isinstance(draft, int):
        return None
    row = conn.execute(select(DR).where(DR.c.id == draft)).first()
    if row is None:
        return None
    return {
        "id": row.id,
        "account": row.account,
        "to": row.recipients.get("to", []),
        "cc": row.recipients.get("cc", []),
        "subject": row.subject,
        "body": row.body,
        "body_sha256": row.body_sha256,
        "status": row.status,
        "reply_to": row.reply_to,
        "matches_approval": row.body_sha256 == subject.get("body_sha256"),
    }


def _approved_for(conn: Connection, row: Any, approval_id: int) -> str | None:
    approval = conn.execute(
        select(tables.approvals).where(tables.approvals.c.id == approval_id)
    ).first()
    if approval is None or approval.agent != row.agent:
        return f"approval #{approval_id} is not one of agent {row.agent!r}'s"
    subject = approval.subject or {}
    if subject.get("kind") != ActionKind.EMAIL_SEND or subject.get("draft") != row.id:
        return f"approval #{approval_id} did not approve sending draft #{row.id}"
    if subject.get("body_sha256") != row.body_sha256:
        return f"approval #{approval_id} approved another version of draft #{row.id}"
    if approval.status != ApprovalStatus.APPLIED.value:
        return f"approval #{approval_id} is {approval.status}, not applied"
    return None


def _needs_approval(fleet: Fleet, agent: str) -> bool:
    config = fleet.agent(agent)
    return config is None or ActionKind.EMAIL_SEND in fleet.guard_for(config).ask_first


def record_sent(
    ctx: WriteContext, fleet: Fleet, principal: Principal, draft_id: int, body: SentIn
) -> dict[str, Any] | Refusal:
    """A draft was sent: only as itself, as approved; anything else is refused and recorded."""
    conn = ctx.conn
    row = conn.execute(select(DR).where(DR.c.id == draft_id)).first()
    if row is None:
        raise NotFound(f"no draft #{draft_id}", field="draft_id")
    owned_account(fleet, principal, row.account, "send")
    problem: str | None = None
    if row.status != "draft":
        problem = f"draft #{draft_id} is {row.status}; a draft is sent once"
    elif body.body_sha256 != row.body_sha256:
        problem = f"what was sent is not draft #{draft_id} (its hash differs)"
    elif body.approval_id is not None:
        problem = _approved_for(conn, row, body.approval_id)
    elif _needs_approval(fleet, row.agent):
        problem = f"sending draft #{draft_id} needs an approval (guard ask_first); none is named"
    if problem is not None:
        return refuse(
            ctx,
            Forbidden(problem, field="body_sha256", code="policy_denied"),
            ev.MAIL_SEND_FAILED,
            principal.actor,
            f"mail:{row.account}",
            {"draft": draft_id, "approval": body.approval_id},
        )
    conn.execute(
        update(DR)
        .where(DR.c.id == draft_id)
        .values(
            status="sent",
            approval_id=body.approval_id,
            sent_ref=body.sent_ref,
            sent_at=ctx.now,
            updated_at=ctx.now,
        )
    )
    row = conn.execute(select(DR).where(DR.c.id == draft_id)).one()
    view = draft_view(fleet, conn, row)
    ctx.append(
        ev.MAIL_SENT,
        principal.actor,
        f"mail:{row.account}",
        {k: view[k] for k in ("id", "account", "to", "cc", "subject", "body_sha256", "sent_ref")}
        | {"draft": draft_id, "approval": body.approval_id},
    )
    return view


def record_send_failed(
    ctx: WriteContext, fleet: Fleet, principal: Principal, draft_id: int, body: SendFailedIn
) -> dict[str, Any]:
    conn = ctx.conn
    row = conn.execute(select(DR).where(DR.c.id == draft_id)).first()
    if row is None:
        raise NotFound(f"no draft #{draft_id}", field="draft_id")
    owned_account(fleet, principal, row.account, "send")
    if row.status != "draft":
        raise Conflict(f"draft #{draft_id} is {row.status}", field="draft_id")
    conn.execute(
        update(DR)
        .where(DR.c.id == draft_id)
        .values(status="failed", error=body.message, updated_at=ctx.now)
    )
    ctx.append(
        ev.MAIL_SEND_FAILED,
        principal.actor,
        f"mail:{row.account}",
        {"draft": draft_id, "error": body.message},
    )
    return draft_view(fleet, conn, conn.execute(select(DR).where(DR.c.id == draft_id)).one())
