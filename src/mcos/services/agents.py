"""Agents: synced from the fleet file; liveness derived on the server from heartbeat times."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, insert, or_, select, update

from mcos.contract.requests import SetAsideIn, isoformat
from mcos.domain import events as ev
from mcos.domain.gauge import ContextGauge
from mcos.domain.liveness import Liveness, derive_liveness
from mcos.errors import NotFound
from mcos.fleet.schema import Agent, Fleet
from mcos.fleet.warnings import agent_warnings
from mcos.services.access import SYSTEM, Principal, require_self
from mcos.services.refusals import refuse_duplicate
from mcos.storage import tables
from mcos.storage.writer import WriteContext

A = tables.agents


def _config_row(agent: Agent) -> dict[str, Any]:
    return {
        "display_name": agent.label,
        "role": agent.role,
        "title": agent.title,
        "machine": agent.machine,
        "provider": agent.provider,
        "model": agent.model,
        "credential_env": agent.credential or "",  # "": external, its runtime holds the key
        "capabilities": list(agent.capabilities),
        "channels": list(agent.channels),
        "supervisor": agent.supervisor,
        "context_window": agent.context_window,
        "flush_line": agent.flush_line,
        "active": True,
    }


def sync_fleet(ctx: WriteContext, fleet: Fleet) -> dict[str, int]:
    """Make the agents table match the fleet file; one event per agent that changed."""
    existing = {row.name: row._mapping for row in ctx.conn.execute(select(A))}
    added = changed = removed = 0
    for agent in fleet.agents:
        config = _config_row(agent)
        old = existing.get(agent.name)
        if old is None:
            ctx.conn.execute(
                insert(A).values(
                    name=agent.name,
                    **config,
                    liveness=Liveness.OFFLINE.value,
                    message_cursor=0,
                    heartbeats=0,
                    created_at=ctx.now,
                    updated_at=ctx.now,
                )
            )
            added += 1
        elif any(old[key] != value for key, value in config.items()):
            ctx.conn.execute(
                update(A).where(A.c.name == agent.name).values(**config, updated_at=ctx.now)
            )
            changed += 1
        else:
            continue
        ctx.append(ev.AGENT_SYNCED, SYSTEM, f"agent:{agent.name}", {"agent": agent.name, **config})
    for name, old in existing.items():
        if old["active"] and fleet.agent(name) is None:
            ctx.conn.execute(
                update(A).where(A.c.name == name).values(active=False, updated_at=ctx.now)
            )
            ctx.append(ev.AGENT_REMOVED, SYSTEM, f"agent:{name}", {"agent": name})
            removed += 1
    return {"added": added, "changed": changed, "removed": removed}


def _active_agent(conn: Connection, name: str, field: str | None = None) -> Any:
    row = conn.execute(select(A).where(A.c.name == name)).first()
    if row is None or not row.active:
        raise NotFound(f"no agent named {name!r} in the fleet", field=field)
    return row


def sweep_liveness(ctx: WriteContext, fleet: Fleet) -> int:
    """Notice silence: move agents whose heartbeats stopped to stalled or offline.

    Only the agents whose liveness could differ from their row's are read: suspended ones,
    those silent for the fleet's shortest threshold, those with a cooldown, and those whose row
    does not say what their last heartbeat said. Every other agent heartbeated recently and its
    heartbeat set the liveness it still has: at 10,000 agents, reading and deriving every row
    every few seconds was most of the sweep (``bench/scale.py --profile``).
    """
    changed = 0
    quiet_since = ctx.now - timedelta(seconds=fleet.shortest_silence_seconds)
    said = case(
        (A.c.reported_status == Liveness.WORKING.value, Liveness.WORKING.value),
        (A.c.reported_status == Liveness.COMPACTING.value, Liveness.COMPACTING.value),
        else_=Liveness.IDLE.value,
    )
    rows = ctx.conn.execute(
        select(
            A.c.name,
            A.c.liveness,
            A.c.last_heartbeat_at,
            A.c.reported_status,
            A.c.cooldown_until,
            A.c.paused,
        )
        .where(
            A.c.active.is_(True),
            or_(
                A.c.paused.is_(True),
                A.c.last_heartbeat_at.is_(None),
                A.c.last_heartbeat_at <= quiet_since,
                A.c.cooldown_until.is_not(None),
                A.c.liveness.is_distinct_from(said),
            ),
        )
        .order_by(A.c.name)  # rows change in name order, as a heartbeat batch locks them
    ).all()
    for row in rows:
        now_liveness = row_liveness(fleet, row, ctx.now)
        if now_liveness.value == row.liveness:
            continue
        # Only if the row is still as read: a heartbeat another replica commits meanwhile
        # (heartbeats run beside this batch) wins, and this sweep says nothing of the agent.
        changed_row = ctx.conn.execute(
            update(A)
            .where(
                A.c.name == row.name,
                A.c.liveness == row.liveness,
                A.c.last_heartbeat_at.is_not_distinct_from(row.last_heartbeat_at),
            )
            .values(liveness=now_liveness.value)
        )
        if changed_row.rowcount != 1:
            continue
        silent = (
            (ctx.now - row.last_heartbeat_at).total_seconds() if row.last_heartbeat_at else None
        )
        ctx.append(
            ev.AGENT_LIVENESS_CHANGED,
            SYSTEM,
            f"agent:{row.name}",
            {
                "agent": row.name,
                "from": row.liveness,
                "to": now_liveness.value,
                "reason": "silence"
                if now_liveness in (Liveness.STALLED, Liveness.OFFLINE)
                else "cooldown",
                "silent_seconds": silent,
            },
        )
        changed += 1
    return changed


def row_liveness(fleet: Fleet, row: Any, now: datetime) -> Liveness:
    """:func:`current_liveness` of an ``agents`` row (name, last heartbeat, reported status,
    cooldown, paused)."""
    return current_liveness(
        fleet,
        row.name,
        row.last_heartbeat_at,
        row.reported_status,
        now,
        row.cooldown_until,
        row.paused,
    )


def current_liveness(
    fleet: Fleet,
    name: str,
    last: datetime | None,
    reported: str | None,
    now: datetime,
    cooldown_until: datetime | None = None,
    suspended: bool = False,
) -> Liveness:
    config = fleet.agent(name)
    thresholds = fleet.liveness_for(config) if config else fleet.liveness
    return derive_liveness(
        now=now,
        last_heartbeat_at=last,
        reported=reported,
        stalled_after_seconds=thresholds.stalled_after_seconds,
        offline_after_seconds=thresholds.offline_after_seconds,
        cooldown_until=cooldown_until,
        suspended=suspended,
    )


def agent_view(
    row: Any, fleet: Fleet, now: datetime, mail_warnings: Sequence[str] = ()
) -> dict[str, Any]:
    liveness = row_liveness(fleet, row, now)
    gauge = (
        ContextGauge(row.context_tokens, row.context_window, row.flush_line).as_dict()
        if row.context_tokens is not None
        else None
    )
    since = (now - row.last_heartbeat_at).total_seconds() if row.last_heartbeat_at else None
    return {
        "name": row.name,
        "display_name": row.display_name,
        "role": row.role,
        "title": row.title,
        "machine": row.machine,
        "provider": row.provider,
        "model": row.model,
        "liveness": liveness.value,
        "reported_status": row.reported_status,
        "last_heartbeat_at": isoformat(row.last_heartbeat_at),
        "seconds_since_heartbeat": round(since, 3) if since is not None else None,
        "gauge": gauge,
        "context_window": row.context_window,
        "flush_line": row.flush_line,
        "current_task": row.current_task_id,
        "note": row.note,
        "capabilities": row.capabilities,
        "channels": row.channels,
        "supervisor": row.supervisor,
        "credential_env": row.credential_env,
        "heartbeats": row.heartbeats,
        # Only while it lasts: a cooldown that ended is no longer the agent's state.
        "cooldown_until": isoformat(row.cooldown_until)
        if row.cooldown_until is not None and row.cooldown_until > now
        else None,
        "last_flush_at": isoformat(row.last_flush_at),
        "last_compaction_at": isoformat(row.last_compaction_at),
        "compactions": row.compactions,
        "paused": row.paused,
        "paused_reason": row.paused_reason,
        "message_cursor": row.message_cursor,
        "set_aside_reports": row.set_aside_reports,
        "last_set_aside": row.last_set_aside,
        "warnings": [*_warnings(fleet, row, now), *mail_warnings],
    }


SET_ASIDE_SHOWN = timedelta(hours=24)
"""How long a report set aside stays a warning on the agent's card."""


def _warnings(fleet: Fleet, row: Any, now: datetime) -> list[str]:
    """What the operator should know about this agent that its state does not say."""
    config = fleet.agent(row.name)
    warnings = agent_warnings(fleet, config) if config is not None else []
    last = row.last_set_aside
    if last and now - datetime.fromisoformat(last["ts"]) < SET_ASIDE_SHOWN:
        count = row.set_aside_reports
        warnings.append(
            f"{count} report{'s' if count != 1 else ''} refused for good and set aside by its "
            f"runtime; the last: {last['method']} {last['path']} -> HTTP {last['status']}: "
            f"{last['error']}"
        )
    return warnings


def list_agents(conn: Connection, fleet: Fleet, now: datetime) -> list[dict[str, Any]]:
    rows = conn.execute(select(A).where(A.c.active.is_(True)).order_by(A.c.name)).all()
    mailboxes = mailbox_warnings(conn, fleet)
    return [agent_view(r, fleet, now, mailboxes.get(r.name, ())) for r in rows]


def get_agent(conn: Connection, fleet: Fleet, name: str, now: datetime) -> dict[str, Any]:
    mailboxes = mailbox_warnings(conn, fleet).get(name, ())
    return agent_view(_active_agent(conn, name, "name"), fleet, now, mailboxes)


def mailbox_warnings(conn: Connection, fleet: Fleet) -> dict[str, list[str]]:
    """Per agent, its mailboxes that cannot be read now (see ``mail.failing_accounts``)."""
    if not fleet.mail.accounts:
        return {}
    from mcos.services.mail import failing_accounts  # mail reads agents for its views

    return failing_accounts(conn, fleet)


def record_set_aside(
    ctx: WriteContext, principal: Principal, name: str, body: SetAsideIn
) -> dict[str, Any]:
    """A report the agent's runtime set aside: counted, and the latest kept for its card."""
    refuse_duplicate(ctx, principal.actor, body.id, "set-aside report")
    require_self(principal, name, field="name")
    row = _active_agent(ctx.conn, name, "name")
    last = body.model_dump(exclude={"id"}) | {"ts": isoformat(ctx.now)}
    ctx.conn.execute(
        update(A)
        .where(A.c.name == name)
        .values(set_aside_reports=A.c.set_aside_reports + 1, last_set_aside=last)
    )
    view = {"agent": name, "set_aside_reports": row.set_aside_reports + 1, "last": last}
    ctx.append(ev.AGENT_REPORT_SET_ASIDE, principal.actor, f"agent:{name}", view, client_id=body.id)
    return view


def nudge_agent(ctx: WriteContext, name: str, reason: str, actor: str) -> dict[str, Any]:
    """Ask an agent to wake now: its runner hears ``agent.nudged`` on the stream."""
    _active_agent(ctx.conn, name, "name")
    data = {"agent": name, "reason": reason}
    event = ctx.append(ev.AGENT_NUDGED, actor, f"agent:{name}", data)
    return ctx.seq_of(event.seq, dict(data))
