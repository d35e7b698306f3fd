"""Reading the watched services: state, outages, downtime, time to recovery, outages stopped.

Figures are over :data:`WINDOW` (or since the service was first reported, if later): uptime is
the share of that time it was not down; MTTR is the mean downtime of the outages that ended in
it; an outage stopped is one that ended after a successful remedy (auto, agent or operator).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from mcos.contract.requests import isoformat
from mcos.domain.service_state import REMEDIATED, uptime_ratio
from mcos.fleet.schema import Fleet
from mcos.fleet.services import AnyService
from mcos.services.service_watch import service_of
from mcos.storage import tables

ST, OUT, REM = tables.service_states, tables.service_outages, tables.service_remediations
WINDOW = timedelta(days=30)
HISTORY = 50
"""Outages and remediations shown by ``GET /api/v1/services/{name}``."""


def outage_view(row: Any, now: datetime) -> dict[str, Any]:
    end = row.ended_at or now
    return {
        "id": row.id,
        "started_at": isoformat(row.started_at),
        "ended_at": isoformat(row.ended_at),
        "downtime_seconds": round((end - row.started_at).total_seconds(), 3),
        "recovered_by": row.recovered_by,
        "stopped": row.recovered_by in REMEDIATED,
        "incident_id": row.incident_id,
        "task_id": row.task_id,
        "detail": row.detail,
    }


def _summary(
    service: AnyService, owner: str | None, state: Any, outages: list[Any], now: datetime
) -> dict[str, Any]:
    start = max(now - WINDOW, state.watched_since) if state is not None else now
    down = sum(
        max(0.0, ((o.ended_at or now) - max(o.started_at, start)).total_seconds())
        for o in outages
        if (o.ended_at or now) > start
    )
    ended = [o for o in outages if o.ended_at is not None and o.ended_at > start]
    current = next((o for o in outages if o.ended_at is None), None)
    return {
        "name": service.name,
        "kind": service.kind,
        "machine": service.machine,
        "owner": owner,
        "target": service.target(),
        "severity": service.severity,
        "production": service.production,
        "every_seconds": service.every_seconds,
        "description": service.description,
        "remedies": {k: r.policy for k, r in service.remedies.items()},
        "auto_restart": service.auto_restart,
        "state": state.state if state is not None else "unknown",
        "since": isoformat(state.since) if state is not None else None,
        "detail": state.detail if state is not None else "not reported yet",
        "failures": state.failures if state is not None else 0,
        "last_report_at": isoformat(state.updated_at) if state is not None else None,
        "watched_since": isoformat(state.watched_since) if state is not None else None,
        "uptime": round(uptime_ratio((now - start).total_seconds(), down), 5),
        "downtime_seconds": round(down, 3),
        "outages": len([o for o in outages if (o.ended_at or now) > start]),
        "mttr_seconds": (
            round(sum(o.downtime_seconds or 0 for o in ended) / len(ended), 3) if ended else None
        ),
        "outages_stopped": sum(1 for o in ended if o.recovered_by in REMEDIATED),
        "open_outage": outage_view(current, now) if current is not None else None,
    }


def list_services(conn: Connection, fleet: Fleet, now: datetime) -> dict[str, Any]:
    states = {r.name: r for r in conn.execute(select(ST))}
    since = now - WINDOW
    outages: dict[str, list[Any]] = {}
    for o in conn.execute(
        select(OUT).where((OUT.c.ended_at.is_(None)) | (OUT.c.ended_at > since)).order_by(OUT.c.id)
    ):
        outages.setdefault(o.service, []).append(o)
    services = [
        _summary(s, fleet.owner_of(s), states.get(s.name), outages.get(s.name, []), now)
        for s in fleet.services
    ]
    return {
        "services": services,
        "window_days": WINDOW.days,
        "totals": {
            "down": sum(1 for s in services if s["state"] == "down"),
            "downtime_seconds": round(sum(s["downtime_seconds"] for s in services), 3),
            "outages": sum(s["outages"] for s in services),
            "outages_stopped": sum(s["outages_stopped"] for s in services),
        },
    }


def get_service(conn: Connection, fleet: Fleet, name: str, now: datetime) -> dict[str, Any]:
    service = service_of(fleet, name)
    state = conn.execute(select(ST).where(ST.c.name == name)).first()
    recent = conn.execute(
        select(OUT).where(OUT.c.service == name).order_by(OUT.c.id.desc()).limit(HISTORY)
    ).all()
    in_window = [o for o in recent if (o.ended_at or now) > now - WINDOW]
    view = _summary(service, fleet.owner_of(service), state, in_window[::-1], now)
    remediations = conn.execute(
        select(REM).where(REM.c.service == name).order_by(REM.c.id.desc()).limit(HISTORY)
    ).all()
    diagnosis = recent[0].diagnosis if recent else ""
    return view | {
        "history": [outage_view(o, now) for o in recent],
        "last_diagnosis": diagnosis,
        "remediations": [
            {
                "id": r.id,
                "action": r.action,
                "by": r.by,
                "command": r.command,
                "exit_status": r.exit_status,
                "ok": r.exit_status == 0,
                "output": r.output,
                "at": isoformat(r.at),
                "seconds": r.seconds,
                "approval_id": r.approval_id,
                "outage_id": r.outage_id,
            }
            for r in remediations
        ],
    }
