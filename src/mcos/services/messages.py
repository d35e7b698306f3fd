"""Messages: agent to agent, to a channel, or to the whole fleet (a capability, not a default)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, or_, select

from mcos.contract.requests import MessageIn, isoformat
from mcos.contract.vocab import ORCHESTRATOR, MessageKind
from mcos.domain import events as ev
from mcos.errors import Conflict, Forbidden, InvalidInput
from mcos.fleet.schema import Agent, Fleet
from mcos.services.access import Principal
from mcos.storage import tables
from mcos.storage.writer import WriteContext

M = tables.messages


def message_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "ts": isoformat(row.ts),
        "sender": row.sender,
        "scope": row.scope,
        "to": row.recipient,
        "channel": row.channel,
        "kind": row.kind,
        "body": row.body,
        "task_id": row.task_id,
    }


def _may_direct(fleet: Fleet, sender: Agent, body: MessageIn, prefix: str) -> None:
    """Directives come from the orchestrator, an operator, or the recipient's supervisor."""
    if sender.role == ORCHESTRATOR:
        return
    target = fleet.agent(body.to) if body.to is not None else None
    if target is not None and target.supervisor == sender.name:
        return
    whom = f"agent {body.to!r}" if body.to else "a channel or the fleet"
    raise Forbidden(
        f"agent {sender.name!r} may not give {whom} a directive: directives come from the "
        f"{ORCHESTRATOR}, an operator, or the recipient's supervisor; send a report or a "
        "question instead",
        field=f"{prefix}kind",
    )


def send_message(
    ctx: WriteContext,
    fleet: Fleet,
    principal: Principal,
    body: MessageIn,
    *,
    field: str | None = None,
    duplicate_ok: bool = False,
) -> dict[str, Any] | None:
    """Store a message and its event; ``None`` when ``duplicate_ok`` and the id was seen."""
    prefix = f"{field}." if field else ""
    if ctx.is_recorded(principal.actor, body.id):
        if duplicate_ok:
            return None
        raise Conflict(
            f"message id {body.id!r} was already sent", field=f"{prefix}id", code="duplicate_id"
        )
    sender = fleet.agent(principal.name) if principal.kind == "agent" else None
    if body.to is not None:
        target = fleet.agent(body.to)
        if target is None:
            raise InvalidInput(f"no agent named {body.to!r} in the fleet", field=f"{prefix}to")
    elif body.channel is not None:
        channel = next((c for c in fleet.channels if c.name == body.channel), None)
        if channel is None:
            raise InvalidInput(f"no channel named {body.channel!r}", field=f"{prefix}channel")
        if sender is not None and body.channel not in sender.channels:
            raise Forbidden(
                f"agent {sender.name!r} is not in channel {body.channel!r}",
                field=f"{prefix}channel",
            )
    elif sender is not None and "broadcast" not in sender.capabilities:
        raise Forbidden(
            f"agent {sender.name!r} lacks the 'broadcast' capability needed to message the "
            "whole fleet; message its supervisor or a channel instead",
            field=f"{prefix}fleet",
        )
    if sender is not None and body.kind == MessageKind.DIRECTIVE:
        _may_direct(fleet, sender, body, prefix)
    if (
        body.task_id is not None
        and ctx.conn.execute(
            select(tables.tasks.c.id).where(tables.tasks.c.id == body.task_id)
        ).first()
        is None
    ):
        raise InvalidInput(f"no task #{body.task_id}", field=f"{prefix}task_id")
    message_id = ctx.conn.execute(
        insert(M).values(
            ts=ctx.now,
            sender=principal.actor,
            scope=body.scope,
            recipient=body.to,
            channel=body.channel,
            kind=body.kind.value,
            body=body.body,
            task_id=body.task_id,
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    view = {
        "id": message_id,
        "ts": isoformat(ctx.now),
        "sender": principal.actor,
        "scope": body.scope,
        "to": body.to,
        "channel": body.channel,
        "kind": body.kind.value,
        "body": body.body,
        "task_id": body.task_id,
    }
    subject = f"agent:{body.to}" if body.to else f"channel:{body.channel}" if body.channel else None
    ctx.append(ev.MESSAGE_SENT, principal.actor, subject, view, client_id=body.id)
    return view


def list_messages(
    conn: Connection,
    *,
    reader: tuple[str, frozenset[str]] | None = None,
    agent: str | None = None,
    channel: str | None = None,
    kind: str | None = None,
    after_id: int = 0,
    limit: int = 200,
) -> list[dict[str, Any]]:
    query = select(M).where(M.c.id > after_id).order_by(M.c.id.desc()).limit(limit)
    if after_id:
        query = select(M).where(M.c.id > after_id).order_by(M.c.id).limit(limit)
    if reader is not None:  # an agent: its own, to it, to its channels, to the fleet
        name, channels = reader
        query = query.where(
            or_(
                M.c.recipient == name,
                M.c.sender == f"agent:{name}",
                M.c.scope == "fleet",
                M.c.channel.in_(sorted(channels)),
            )
        )
    if agent is not None:
        query = query.where(or_(M.c.recipient == agent, M.c.sender == f"agent:{agent}"))
    if channel is not None:
        query = query.where(M.c.channel == channel)
    if kind is not None:
        query = query.where(M.c.kind == kind)
    rows = [message_view(r) for r in conn.execute(query)]
    return sorted(rows, key=lambda m: m["id"])
