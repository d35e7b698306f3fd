"""Mail in the control plane: what a runner read, stored once, classified by the fleet's rules.

A runner reads an account from the cursor stored here and reports each batch with the cursor
that follows it (:func:`record_sync`): the messages and the new cursor are written in one unit,
so a restart anywhere in a sync neither loses a message nor stores one twice (``(account,
key)`` is unique, and after a reset a known ``Message-ID`` is recognised too). The fleet file's
rules classify each new message as it is stored; the owning agent's model classifies the rest
(:mod:`mcos.services.mail_triage`); a rule has the last word over the model, and an operator's
correction over both.

Who sees a mail: operators; the account's owner; the agent it was flagged to; the assignee of
the task made from it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from mcos.contract.requests import isoformat
from mcos.domain import events as ev
from mcos.errors import Forbidden, InvalidInput, NotFound
from mcos.fleet.mail import ImapAccount, M365Account
from mcos.fleet.schema import Fleet
from mcos.mail.message import Attachment, MailItem
from mcos.mail.rules import classify_by_rules
from mcos.mail.schemas import MailItemIn, SyncFailedIn, SyncIn
from mcos.services.access import Principal
from mcos.storage import tables
from mcos.storage.writer import WriteContext

A = tables.mail_accounts
MM = tables.mail_messages
Account = ImapAccount | M365Account


def account_of(fleet: Fleet, name: str, *, field: str = "account") -> Account:
    account = fleet.mail.account(name)
    if account is None:
        known = ", ".join(a.name for a in fleet.mail.accounts) or "none in the fleet file"
        raise NotFound(f"no mail account {name!r} (known: {known})", field=field)
    return account


def owned_account(
    fleet: Fleet, principal: Principal, name: str, need: str, *, field: str = "account"
) -> Account:
    """The account, if this caller may ``need`` (read, draft, send) it: its owner, when the
    fleet file lets it; an operator reads any."""
    account = account_of(fleet, name, field=field)
    if principal.is_operator and need == "read":
        return account
    if principal.kind != "agent" or principal.name != account.owner:
        raise Forbidden(
            f"mail account {name!r} is agent {account.owner!r}'s; "
            f"{principal.actor} may not {need} it",
            field=field,
        )
    if need not in account.may:
        raise Forbidden(
            f"agent {account.owner!r} may not {need} with mail account {name!r} (the fleet "
            f"file's may = {list(account.may)}); an operator can add {need!r} to it",
            field=field,
        )
    return account


def _item(body: MailItemIn) -> MailItem:
    return MailItem(
        key=body.key,
        message_id=body.message_id,
        thread=body.thread[:255],
        sender=body.sender.lower(),
        sender_name=body.sender_name[:200],  # the column's size; the address is whole
        to=tuple(body.to),
        cc=tuple(body.cc),
        subject=body.subject,
        received_at=body.received_at,
        text=body.text,
        attachments=tuple(Attachment(a.filename, a.content_type, a.size) for a in body.attachments),
        in_reply_to=body.in_reply_to,
    )


def _state(conn: Connection, name: str) -> Any:
    return conn.execute(select(A).where(A.c.name == name)).first()


def record_sync(
    ctx: WriteContext, fleet: Fleet, principal: Principal, name: str, body: SyncIn
) -> dict[str, Any]:
    """Store the new messages of one batch and the cursor after them, in one unit."""
    from mcos.services.mail_triage import apply_verdict  # triage imports this module

    account = owned_account(fleet, principal, name, "read")
    if principal.is_operator:
        raise Forbidden("only the account's owner (its runner) reports what it read")
    conn = ctx.conn
    keys = [i.key for i in body.items]
    known = {
        r.key
        for r in conn.execute(select(MM.c.key).where(MM.c.account == name, MM.c.key.in_(keys)))
    }
    known_ids: set[str] = set()
    if body.reset:
        ids = [i.message_id for i in body.items if i.message_id]
        known_ids = {
            r.message_id
            for r in conn.execute(
                select(MM.c.message_id).where(MM.c.account == name, MM.c.message_id.in_(ids))
            )
        }
    stored: list[int] = []
    ruled = 0
    seen: set[str] = set()
    for raw in body.items:
        if raw.key in known or raw.key in seen or (raw.message_id and raw.message_id in known_ids):
            continue
        seen.add(raw.key)
        item = _item(raw)
        mail_id = conn.execute(
            insert(MM).values(
                account=name,
                key=item.key,
                message_id=item.message_id,
                thread=item.thread,
                sender=item.sender,
                sender_name=item.sender_name,
                recipients={"to": list(item.to), "cc": list(item.cc)},
                subject=item.subject,
                received_at=item.received_at,
                text=item.text,
                attachments=[a.model_dump() for a in raw.attachments],
                synced_at=ctx.now,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        stored.append(mail_id)
        verdict = classify_by_rules(fleet.mail.rules, name, item)
        if verdict is not None:
            ruled += 1
            apply_verdict(
                ctx,
                fleet,
                account,
                mail_id,
                category=verdict.category,
                topic=verdict.topic,
                reason=verdict.reason,
                classified_by=f"rule:{verdict.rule}",
                model_category=None,
            )
    row = _state(conn, name)
    recovered = row is not None and row.failing_since is not None
    values = {
        "cursor": body.cursor,
        "synced_at": ctx.now,
        "failing_since": None,
        "error_kind": None,
        "error": None,
    }
    if row is None:
        conn.execute(insert(A).values(name=name, messages=len(stored), **values))
    else:
        conn.execute(
            update(A).where(A.c.name == name).values(messages=A.c.messages + len(stored), **values)
        )
    result = {
        "account": name,
        "stored": len(stored),
        "duplicates": len(body.items) - len(stored),
        "classified_by_rules": ruled,
        "ids": stored,
        "reset": body.reset,
        "recovered": recovered,
    }
    if stored or recovered or body.reset:
        ctx.append(
            ev.MAIL_SYNCED, principal.actor, f"mail:{name}", result | {"owner": account.owner}
        )
    return result


def record_sync_failure(
    ctx: WriteContext, fleet: Fleet, principal: Principal, name: str, body: SyncFailedIn
) -> dict[str, Any]:
    """A mailbox that could not be read: on the account and the owner's card, once per change."""
    account = owned_account(fleet, principal, name, "read")
    if principal.is_operator:
        raise Forbidden("only the account's owner (its runner) reports that it cannot read it")
    conn = ctx.conn
    row = _state(conn, name)
    changed = row is None or row.failing_since is None or row.error != body.message
    since = row.failing_since if row is not None and row.failing_since is not None else ctx.now
    values = {"failing_since": since, "error_kind": body.kind, "error": body.message}
    if row is None:
        conn.execute(insert(A).values(name=name, messages=0, **values))
    else:
        conn.execute(update(A).where(A.c.name == name).values(**values))
    view = {
        "account": name,
        "owner": account.owner,
        "kind": body.kind,
        "error": body.message,
        "failing_since": isoformat(since),
    }
    if changed:
        ctx.append(ev.MAIL_SYNC_FAILED, principal.actor, f"mail:{name}", view)
    return view


def account_view(account: Account, row: Any) -> dict[str, Any]:
    return {
        "name": account.name,
        "kind": account.kind,
        "owner": account.owner,
        "address": account.address,
        "may": list(account.may),
        "cursor": row.cursor if row is not None else None,
        "synced_at": isoformat(row.synced_at) if row is not None and row.synced_at else None,
        "messages": row.messages if row is not None else 0,
        "failing_since": (
            isoformat(row.failing_since) if row is not None and row.failing_since else None
        ),
        "error_kind": row.error_kind if row is not None else None,
        "error": row.error if row is not None else None,
    }


def list_accounts(conn: Connection, fleet: Fleet, principal: Principal) -> list[dict[str, Any]]:
    rows = {r.name: r for r in conn.execute(select(A))}
    return [
        account_view(a, rows.get(a.name))
        for a in fleet.mail.accounts
        if principal.is_operator or a.owner == principal.name
    ]


def failing_accounts(conn: Connection, fleet: Fleet) -> dict[str, list[str]]:
    """Per owner agent, a warning for each of its mailboxes that cannot be read now."""
    warnings: dict[str, list[str]] = {}
    for row in conn.execute(select(A).where(A.c.failing_since.is_not(None))):
        account = fleet.mail.account(row.name)
        if account is None:
            continue
        warnings.setdefault(account.owner, []).append(
            f"mailbox {row.name!r} cannot be read since {isoformat(row.failing_since)} "
            f"({row.error_kind}): {row.error}"
        )
    return warnings


# -- reading mail ---------------------------------------------------------------------------


def _visible(fleet: Fleet, principal: Principal) -> Any:
    """The rows this caller may read, as a WHERE clause."""
    if principal.is_operator:
        return MM.c.id > 0
    owned = [a.name for a in fleet.mail.accounts if a.owner == principal.name]
    flagged = select(tables.messages.c.id).where(tables.messages.c.recipient == principal.name)
    assigned = select(tables.tasks.c.id).where(tables.tasks.c.assignee == principal.name)
    return or_(
        MM.c.account.in_(owned),
        MM.c.flag_message_id.in_(flagged),
        MM.c.task_id.in_(assigned),
    )


def mail_summary(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "account": row.account,
        "thread": row.thread,
        "sender": row.sender,
        "sender_name": row.sender_name,
        "subject": row.subject,
        "received_at": isoformat(row.received_at),
        "attachments": len(row.attachments),
        "category": row.category,
        "topic": row.topic,
        "reason": row.reason,
        "classified_by": row.classified_by,
        "model_category": row.model_category,
        "triaged_at": isoformat(row.triaged_at) if row.triaged_at else None,
        "flag_message_id": row.flag_message_id,
        "task_id": row.task_id,
        "digest_id": row.digest_id,
    }


def mail_view(row: Any) -> dict[str, Any]:
    return mail_summary(row) | {
        "key": row.key,
        "message_id": row.message_id,
        "to": row.recipients.get("to", []),
        "cc": row.recipients.get("cc", []),
        "text": row.text,
        "attachments": row.attachments,
        "synced_at": isoformat(row.synced_at),
    }


def get_mail(conn: Connection, fleet: Fleet, principal: Principal, mail_id: int) -> dict[str, Any]:
    row = conn.execute(select(MM).where(MM.c.id == mail_id, _visible(fleet, principal))).first()
    if row is None:
        raise NotFound(f"no mail #{mail_id} that {principal.actor} may read", field="mail_id")
    return mail_view(row)


def list_mail(
    conn: Connection,
    fleet: Fleet,
    principal: Principal,
    *,
    account: str | None = None,
    status: str = "all",
    thread: str | None = None,
    category: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Newest first; ``status``: ``all``, ``untriaged``, ``triaged`` or ``undigested``;
    ``category``: only mail triaged into it."""
    query = select(MM).where(_visible(fleet, principal), MM.c.id > after_id)
    if account is not None:
        account_of(fleet, account)
        query = query.where(MM.c.account == account)
    if thread is not None:
        query = query.where(MM.c.thread == thread)
    if category is not None:
        query = query.where(MM.c.category == category)
    if status == "untriaged":
        query = query.where(MM.c.triaged_at.is_(None))
    elif status == "triaged":
        query = query.where(MM.c.triaged_at.is_not(None))
    elif status == "undigested":
        query = query.where(MM.c.digest_id.is_(None))
    elif status != "all":
        raise InvalidInput(
            f"unknown status {status!r}; use all, untriaged, triaged or undigested",
            field="status",
        )
    order = MM.c.id if after_id else MM.c.id.desc()
    return [mail_summary(r) for r in conn.execute(query.order_by(order).limit(limit))]
