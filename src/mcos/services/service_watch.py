"""Watched services on the control plane: state changes, outages, and what was done about them.

Only the runner of a service's machine reports for it (its runner token, acting as the
service's owner). Going down opens an outage, raises an incident at the service's severity
through the escalation table (reported by the owner, recorded as the runner's act: the table
decides who confirms, exactly as for an incident an agent raises), and gives the owner a
high-priority task with the diagnosis. Coming back closes the outage with its downtime and how
it recovered: ``auto`` (the watcher's own restart), ``agent`` (the owner's remedy),
``operator``, or ``self`` when no remedy succeeded during it. A remedy that succeeded during an
outage it ended is an outage stopped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from mcos.contract.requests import (
    IncidentIn,
    RemediationIn,
    ServiceStateIn,
    TaskComment,
    TaskCreate,
)
from mcos.contract.vocab import Priority
from mcos.domain import events as ev
from mcos.domain.service_state import REMEDIATED
from mcos.domain.untrusted import fence
from mcos.errors import Forbidden, McosError, NotFound
from mcos.fleet.schema import Fleet
from mcos.fleet.services import AnyService
from mcos.services import artifacts, incidents, tasks
from mcos.services.access import Principal
from mcos.services.refusals import refuse_duplicate
from mcos.storage import tables
from mcos.storage.writer import WriteContext

ST, OUT, REM = tables.service_states, tables.service_outages, tables.service_remediations
DIAGNOSIS_FILE = "diagnosis.txt"
"""The outage task's attachment: the runbook's diagnose output, in full."""
TASK_LIMIT = 20_000
"""Characters of a task's description (``TaskCreate``); a longer diagnosis is cut there."""


def service_of(fleet: Fleet, name: str) -> AnyService:
    service = fleet.service(name)
    if service is None:
        raise NotFound(f"no service named {name!r} in the fleet file", field="name")
    return service


def require_runner_of(fleet: Fleet, principal: Principal, service: AnyService) -> str:
    """Only the runner of the service's machine, acting as its owner, reports for it."""
    owner = fleet.owner_of(service)
    assert owner is not None  # the loader refuses a service without one
    if principal.machine != service.machine or principal.name != owner:
        raise Forbidden(
            f"only the runner of machine {service.machine!r} (its runner token, acting as "
            f"{owner!r}) reports for service {service.name!r}",
            field="name",
        )
    return owner


def _seconds(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())


def report_state(
    ctx: WriteContext, fleet: Fleet, principal: Principal, name: str, body: ServiceStateIn
) -> dict[str, Any]:
    service = service_of(fleet, name)
    owner = require_runner_of(fleet, principal, service)
    refuse_duplicate(ctx, principal.actor, body.id, "service report")
    conn = ctx.conn
    row = conn.execute(select(ST).where(ST.c.name == name)).first()
    values = {
        "machine": service.machine,
        "state": body.state,
        "since": body.at,
        "failures": body.failures,
        "detail": body.detail,
        "updated_at": ctx.now,
    }
    if row is None:
        conn.execute(insert(ST).values(name=name, watched_since=body.at, **values))
    else:
        conn.execute(update(ST).where(ST.c.name == name).values(**values))
    data: dict[str, Any] = {
        "service": name,
        "machine": service.machine,
        "agent": owner,
        "state": body.state,
        "before": body.before,
        "at": body.at.isoformat(),
        "detail": body.detail,
    }
    open_outage = _open_outage(conn, name)
    if body.state == "down" and open_outage is None:
        data |= _went_down(ctx, fleet, principal, service, owner, body)
        kind = ev.SERVICE_DOWN
    elif body.state != "down" and open_outage is not None:
        data |= _came_back(ctx, principal, service, open_outage, body)
        kind = ev.SERVICE_UP if body.state == "up" else ev.SERVICE_CHANGED
    else:
        kind = ev.SERVICE_UP if body.state == "up" else ev.SERVICE_CHANGED
    ctx.append(kind, principal.actor, f"service:{name}", data, client_id=body.id)
    return data


def _open_outage(conn: Connection, name: str) -> Any:
    return conn.execute(
        select(OUT).where(OUT.c.service == name, OUT.c.ended_at.is_(None)).order_by(OUT.c.id.desc())
    ).first()


def _went_down(
    ctx: WriteContext,
    fleet: Fleet,
    principal: Principal,
    service: AnyService,
    owner: str,
    body: ServiceStateIn,
) -> dict[str, Any]:
    """Open the outage, raise the incident, give the owner its task."""
    # The runner's act, for the owner: ``acting_agent`` lets a runner name its machine's agent.
    runner = Principal("runner", service.machine, machine=service.machine)
    title = f"{service.name} is down on {service.machine}"
    said = f"{service.kind} probe of {service.target()}: {body.detail}"
    incident = incidents.raise_incident(
        ctx,
        fleet,
        runner,
        IncidentIn(severity=service.severity, title=title, body=said, agent=owner),
    )
    assert isinstance(incident, dict)  # a runner naming its own machine's agent is no refusal
    remedies = ", ".join(f"{k} ({r.policy})" for k, r in service.remedies.items()) or "none"
    diagnosis = body.diagnosis or "(the runbook has no diagnose commands)"
    description = (
        f"{said}\nDown since {body.at.isoformat()} after {body.failures} failed probe(s); "
        f"incident #{incident['id']} ({service.severity}, {incident['status']}).\n"
        f"Runbook remedies: {remedies}. Find the cause; restart_service or rollback_service "
        "if the runbook allows, and say what you found. The diagnosis (the runbook's "
        f"diagnose commands, run as it went down) is attached as {DIAGNOSIS_FILE}:\n\n"
    )
    room = TASK_LIMIT - len(description)
    # Log lines carry what outsiders sent (request paths, user agents): data for the owner's
    # model, never its orders.
    shown = diagnosis if len(diagnosis) <= room - 300 else diagnosis[: room - 340] + "\n[... cut]"
    description += fence("diagnosis", f"service={service.name}", f"{DIAGNOSIS_FILE}", shown)
    task = tasks.create_task(
        ctx,
        runner,
        TaskCreate(
            title=f"Outage: {title}",
            description=description,
            kind="service-outage",
            priority=Priority.URGENT if service.severity in ("P0", "P1") else Priority.HIGH,
            assignee=owner,
        ),
    )
    try:
        artifact: dict[str, Any] | None = artifacts.add_artifact(
            ctx,
            runner,
            task["id"],
            name=DIAGNOSIS_FILE,
            content=f"# {title}\n\n{said}\n\n{diagnosis}\n".encode(),
            content_type="text/plain; charset=utf-8",
            note=f"diagnose commands run by the runner on {service.machine}",
        )
    except McosError:  # refused before anything is stored (past the size limit, no store):
        artifact = None  # the outage is recorded all the same, its diagnosis in the task
    outage_id = ctx.conn.execute(
        insert(OUT).values(
            service=service.name,
            started_at=body.at,
            incident_id=incident["id"],
            task_id=task["id"],
            detail=body.detail,
            diagnosis=body.diagnosis,
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    return {
        "outage": outage_id,
        "severity": service.severity,
        "incident": incident["id"],
        "task": task["id"],
        "artifact": artifact["id"] if artifact is not None else None,
    }


def _came_back(
    ctx: WriteContext,
    principal: Principal,
    service: AnyService,
    outage: Any,
    body: ServiceStateIn,
) -> dict[str, Any]:
    """Close the outage: its downtime, how it recovered; a note on its incident and task."""
    conn = ctx.conn
    remedied = conn.execute(
        select(REM.c.by)
        .where(REM.c.outage_id == outage.id, REM.c.exit_status == 0)
        .order_by(REM.c.id.desc())
    ).first()
    recovered_by = remedied.by if remedied is not None else "self"
    downtime = _seconds(outage.started_at, body.at)
    conn.execute(
        update(OUT)
        .where(OUT.c.id == outage.id)
        .values(ended_at=body.at, downtime_seconds=downtime, recovered_by=recovered_by)
    )
    note = (
        f"{service.name} {body.state} at {body.at.isoformat()} after {downtime:.0f}s down; "
        f"recovered by {recovered_by}"
    )
    if outage.incident_id is not None:
        INC = tables.incidents
        conn.execute(
            update(INC)
            .where(INC.c.id == outage.incident_id, INC.c.resolution.is_(None))
            .values(resolution=note)
        )
    runner = Principal("runner", service.machine, machine=service.machine)
    if outage.task_id is not None:
        tasks.comment_task(ctx, runner, outage.task_id, TaskComment(body=note))
    return {
        "outage": outage.id,
        "incident": outage.incident_id,
        "task": outage.task_id,
        "downtime_seconds": downtime,
        "recovered_by": recovered_by,
        "stopped": recovered_by in REMEDIATED,
    }


def record_remediation(
    ctx: WriteContext, fleet: Fleet, principal: Principal, name: str, body: RemediationIn
) -> dict[str, Any]:
    service = service_of(fleet, name)
    owner = require_runner_of(fleet, principal, service)
    refuse_duplicate(ctx, principal.actor, body.id, "remediation report")
    outage = _open_outage(ctx.conn, name)
    remediation_id = ctx.conn.execute(
        insert(REM).values(
            service=name,
            outage_id=outage.id if outage is not None else None,
            action=body.action,
            by=body.by,
            command=body.command,
            exit_status=body.exit_status,
            output=body.output,
            at=body.at,
            seconds=body.seconds,
            approval_id=body.approval_id,
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    data = {
        "service": name,
        "machine": service.machine,
        "agent": owner,
        "remediation": remediation_id,
        "action": body.action,
        "by": body.by,
        "exit_status": body.exit_status,
        "ok": body.exit_status == 0,
        "approval_id": body.approval_id,
        "outage": outage.id if outage is not None else None,
        "task": outage.task_id if outage is not None else None,
    }
    ctx.append(ev.SERVICE_REMEDIATED, principal.actor, f"service:{name}", data, client_id=body.id)
    return data
