"""The memory flush guard, and cooldowns: what a runtime reports about its agent's context.

The seed's agents lost three hours of decisions to compaction. Here an agent writes what matters
to its daily memory note first; a compaction reported with no flush since the previous one is
refused and flagged, so lost context is visible rather than silent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, select, update

from mcos.contract.requests import Compaction, Cooldown, MemoryFlush, isoformat
from mcos.domain import events as ev
from mcos.domain.liveness import Liveness
from mcos.errors import Conflict, InvalidInput, NotFound
from mcos.fleet.schema import Fleet
from mcos.services.access import Principal, require_self
from mcos.services.refusals import Refusal, refuse, refuse_duplicate
from mcos.storage import tables
from mcos.storage.writer import WriteContext

A, N = tables.agents, tables.memory_notes


def _agent(conn: Connection, name: str) -> Any:
    row = conn.execute(select(A).where(A.c.name == name)).first()
    if row is None or not row.active:
        raise NotFound(f"no agent named {name!r} in the fleet")
    return row


def today(fleet: Fleet, now: datetime) -> str:
    return now.astimezone(ZoneInfo(fleet.fleet.timezone)).date().isoformat()


def record_flush(
    ctx: WriteContext, fleet: Fleet, principal: Principal, name: str, body: MemoryFlush
) -> dict[str, Any]:
    refuse_duplicate(ctx, principal.actor, body.id, "memory flush")
    require_self(principal, name)
    _agent(ctx.conn, name)
    day = today(fleet, ctx.now)
    if body.day is not None:
        yesterday = today(fleet, ctx.now - timedelta(days=1))
        if body.day.isoformat() not in (day, yesterday):
            raise InvalidInput(
                f"a memory note is today's ({day}) or, just after midnight, yesterday's "
                f"({yesterday}); got {body.day.isoformat()}",
                field="day",
            )
        day = body.day.isoformat()
    note_id = ctx.conn.execute(
        insert(N).values(agent=name, ts=ctx.now, day=day, content=body.content)
    ).inserted_primary_key[0]  # type: ignore[index]
    ctx.conn.execute(update(A).where(A.c.name == name).values(last_flush_at=ctx.now))
    view = {
        "id": note_id,
        "agent": name,
        "day": day,
        "ts": isoformat(ctx.now),
        "chars": len(body.content),
    }
    ctx.append(ev.MEMORY_FLUSHED, principal.actor, f"agent:{name}", view, client_id=body.id)
    return view


def record_compaction(
    ctx: WriteContext, fleet: Fleet, principal: Principal, name: str, body: Compaction
) -> dict[str, Any] | Refusal:
    """Record a compaction, or refuse and flag one with no memory flush since the last.

    A refused compaction spends its client id: a retry of it is answered ``duplicate_id``.
    """
    refuse_duplicate(ctx, principal.actor, body.id, "compaction")
    require_self(principal, name)
    row = _agent(ctx.conn, name)
    data = {"agent": name, "tokens_before": body.tokens_before, "tokens_after": body.tokens_after}
    flushed = row.last_flush_at is not None and (
        row.last_compaction_at is None or row.last_flush_at > row.last_compaction_at
    )
    if not flushed:
        since = "ever" if row.last_compaction_at is None else "since the last compaction"
        return refuse(
            ctx,
            Conflict(
                f"agent {name!r} has written no memory flush {since}: write today's note "
                f"(POST /api/v1/agents/{name}/memory) before compacting, or the context is lost",
                code="flush_required",
            ),
            ev.MEMORY_COMPACTION_REFUSED,
            principal.actor,
            f"agent:{name}",
            data,
            client_id=body.id,
        )
    ctx.conn.execute(
        update(A)
        .where(A.c.name == name)
        .values(
            last_compaction_at=ctx.now,
            compactions=A.c.compactions + 1,
            context_tokens=body.tokens_after,
        )
    )
    ctx.append(
        ev.MEMORY_COMPACTED,
        principal.actor,
        f"agent:{name}",
        data | {"flushed_at": isoformat(row.last_flush_at)},
        client_id=body.id,
    )
    return data | {"compacted_at": isoformat(ctx.now), "compactions": row.compactions + 1}


def record_cooldown(
    ctx: WriteContext, fleet: Fleet, principal: Principal, name: str, body: Cooldown
) -> dict[str, Any]:
    """A 429 puts the agent's one credential in cooldown until its retry-after."""
    refuse_duplicate(ctx, principal.actor, body.id, "cooldown")
    require_self(principal, name)
    row = _agent(ctx.conn, name)
    if body.credential is not None and body.credential != row.credential_env:
        raise InvalidInput(
            f"agent {name!r} has one credential, {row.credential_env}; {body.credential} is "
            "not it (a second key would only double the burn)",
            field="credential",
        )
    until = ctx.now + timedelta(seconds=body.retry_after_seconds)
    if row.cooldown_until is not None and row.cooldown_until > until:
        until = row.cooldown_until
    ctx.conn.execute(
        update(A)
        .where(A.c.name == name)
        .values(cooldown_until=until, liveness=Liveness.COOLING_DOWN.value)
    )
    view = {
        "agent": name,
        "credential": row.credential_env,
        "until": isoformat(until),
        "retry_after_seconds": body.retry_after_seconds,
    }
    ctx.append(ev.AGENT_COOLING_DOWN, principal.actor, f"agent:{name}", view, client_id=body.id)
    if row.liveness != Liveness.COOLING_DOWN.value:
        ctx.append(
            ev.AGENT_LIVENESS_CHANGED,
            principal.actor,
            f"agent:{name}",
            {
                "agent": name,
                "from": row.liveness,
                "to": Liveness.COOLING_DOWN.value,
                "reason": "rate limited",
            },
        )
    return view


def list_notes(
    conn: Connection, fleet: Fleet, name: str, now: datetime, days: list[str] | None = None
) -> list[dict[str, Any]]:
    """The agent's notes of ``days`` (default: today and yesterday, what it reads on waking)."""
    _agent(conn, name)
    if not days:
        first = today(fleet, now)
        days = [first, today(fleet, now - timedelta(days=1))]
    rows = conn.execute(select(N).where(N.c.agent == name, N.c.day.in_(days)).order_by(N.c.id))
    return [{"id": r.id, "day": r.day, "ts": isoformat(r.ts), "content": r.content} for r in rows]
