"""/api/v1/actions, /approvals, /incidents: ask before acting; decide what needs deciding."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from mcos.api.auth import CurrentPrincipal, CurrentStore, bearer_token, principal_for
from mcos.api.body import documented_body, json_body
from mcos.api.params import ApprovalId, IncidentId
from mcos.api.responses import JSON
from mcos.contract.agent import Approval, ApprovalList, Decision, Incident, IncidentList
from mcos.contract.errors import errors
from mcos.contract.fleet import UsageSummary, ValueSummary
from mcos.contract.requests import ActionRequest, ApprovalDecision, CapabilityRestore, IncidentIn
from mcos.errors import Conflict, InvalidInput, NotFound
from mcos.services import actions, approval_decisions, approvals, budgets, incidents, value
from mcos.services.access import Principal
from mcos.services.store import Store

router = APIRouter(prefix="/api/v1", tags=["guardrails"])


@router.post(
    "/actions",
    response_model=Decision,
    summary="Ask before acting: allowed (200), needs approval (202), or refused (403)",
    responses={
        202: {
            "model": Decision,
            "description": "Needs approval; the answer names the approval to wait for",
        },
        **errors(403, 404, 409, s403="Refused by the policy (`policy_denied`); on the record"),
    },
    openapi_extra=documented_body(ActionRequest),
)
async def check_action(request: Request) -> JSON:
    # Asked before every sensitive tool call: read by hand, as the heartbeat is (api/body.py),
    # rather than through FastAPI's dependency and body machinery; documented all the same.
    principal = await principal_for(request, bearer_token(request))
    body = await json_body(request, ActionRequest)
    store: Store = request.app.state.store
    answer = await store.write(actions.check_action, store.fleet, principal, body)
    return JSON(answer, status_code=202 if answer["decision"] == "needs_approval" else 200)


@router.post(
    "/approvals",
    response_model=Approval,
    status_code=201,
    summary="Ask an operator to restore a capability (the same request again: the same approval)",
    responses={
        200: {
            "model": Approval,
            "description": "The same request is already waiting: that approval",
        },
        **errors(404, 409),
    },
)
async def request_restore(
    body: CapabilityRestore, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    view = await store.write(approvals.request_restore, store.fleet, principal, body)
    return JSON(view, status_code=200 if view.get("repeated") else 201)


@router.get(
    "/approvals", response_model=ApprovalList, responses=errors(), summary="Approvals, newest first"
)
async def list_approvals(
    store: CurrentStore,
    principal: CurrentPrincipal,
    status: Literal["pending", "approved", "denied", "expired", "applied"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 200,
) -> JSON:
    now = datetime.now(UTC)
    items = await store.read(
        lambda conn: approvals.list_approvals(
            conn, now, status=status, limit=limit, viewer=_viewer(store, principal)
        )
    )
    return JSON({"approvals": items})


@router.get(
    "/approvals/{approval_id}",
    response_model=Approval,
    responses=errors(404),
    summary="One approval with its decisions",
)
async def show_approval(
    approval_id: ApprovalId, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    return JSON(
        await store.read(
            approvals.get_approval, approval_id, datetime.now(UTC), _viewer(store, principal)
        )
    )


def _viewer(store: Store, principal: Principal) -> approvals.Viewer | None:
    """Who reads approvals: an agent, with its role; ``None`` for an operator (every one)."""
    if principal.is_operator:
        return None
    config = store.fleet.agent(principal.name)
    return principal.name, config.role if config is not None else None


@router.post(
    "/approvals/{approval_id}/approve",
    response_model=Approval,
    responses=errors(404, 409),
    summary="Approve, as one of the required parties",
)
async def approve(
    approval_id: ApprovalId,
    body: ApprovalDecision,
    store: CurrentStore,
    principal: CurrentPrincipal,
) -> JSON:
    return JSON(
        await store.write(
            approval_decisions.decide_approval, store.fleet, principal, approval_id, "approve", body
        )
    )


@router.post(
    "/approvals/{approval_id}/deny",
    response_model=Approval,
    responses=errors(404, 409),
    summary="Deny: one denial ends the approval",
)
async def deny(
    approval_id: ApprovalId,
    body: ApprovalDecision,
    store: CurrentStore,
    principal: CurrentPrincipal,
) -> JSON:
    return JSON(
        await store.write(
            approval_decisions.decide_approval, store.fleet, principal, approval_id, "deny", body
        )
    )


@router.post(
    "/incidents",
    response_model=Incident,
    responses=errors(409),
    status_code=201,
    summary="Raise an incident into the escalation queue",
)
async def raise_incident(
    body: IncidentIn, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    return JSON(
        await store.write(incidents.raise_incident, store.fleet, principal, body), status_code=201
    )


@router.get(
    "/incidents",
    response_model=IncidentList,
    responses=errors(),
    summary="Incidents, newest first (agents see only what reaches them)",
)
async def list_incidents(
    store: CurrentStore,
    principal: CurrentPrincipal,
    status: Literal["unconfirmed", "confirmed", "dismissed", "logged"] | None = None,
) -> JSON:
    items = await store.read(
        lambda conn: incidents.list_incidents(conn, store.fleet, principal, status=status)
    )
    return JSON({"incidents": items})


@router.get(
    "/incidents/{incident_id}",
    response_model=Incident,
    responses=errors(404),
    summary="One incident",
)
async def show_incident(
    incident_id: IncidentId, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    return JSON(await store.read(incidents.get_incident, store.fleet, principal, incident_id))


async def _incident_approval(store: CurrentStore, principal: Principal, incident_id: int) -> int:
    incident = await store.read(incidents.get_incident, store.fleet, principal, incident_id)
    if incident["approval_id"] is None:
        raise Conflict(
            f"incident #{incident_id} is {incident['status']}; nothing to decide",
            code="not_pending",
        )
    approval_id: int = incident["approval_id"]
    return approval_id


@router.post(
    "/incidents/{incident_id}/confirm",
    response_model=Incident,
    responses=errors(404, 409),
    summary="Confirm, as one of its confirmers",
)
async def confirm_incident(
    incident_id: IncidentId,
    body: ApprovalDecision,
    store: CurrentStore,
    principal: CurrentPrincipal,
) -> JSON:
    approval_id = await _incident_approval(store, principal, incident_id)
    await store.write(
        approval_decisions.decide_approval, store.fleet, principal, approval_id, "approve", body
    )
    return JSON(await store.read(incidents.get_incident, store.fleet, principal, incident_id))


@router.post(
    "/incidents/{incident_id}/dismiss",
    response_model=Incident,
    responses=errors(404, 409),
    summary="Dismiss, saying why",
)
async def dismiss_incident(
    incident_id: IncidentId,
    body: ApprovalDecision,
    store: CurrentStore,
    principal: CurrentPrincipal,
) -> JSON:
    if not body.comment.strip():
        raise InvalidInput("say why the incident is dismissed", field="comment")
    approval_id = await _incident_approval(store, principal, incident_id)
    await store.write(
        approval_decisions.decide_approval, store.fleet, principal, approval_id, "deny", body
    )
    return JSON(await store.read(incidents.get_incident, store.fleet, principal, incident_id))


@router.get(
    "/usage/roi",
    response_model=ValueSummary,
    responses=errors(404),
    summary="The value ledger: time saved by finished work against spend",
)
async def roi(store: CurrentStore, _: CurrentPrincipal) -> JSON:
    now = datetime.now(UTC)
    summary = await store.read(value.value_summary, store.fleet, now)
    if summary is None:
        raise NotFound(
            "the fleet file has no [[value_ledger]]: add kinds of work with minutes_saved and "
            "hourly_rate (`mcos init` writes the seed's)"
        )
    return JSON(summary)


@router.get(
    "/usage",
    response_model=UsageSummary,
    responses=errors(),
    summary="Spend today and this month, per agent against budget and per model",
)
async def usage(store: CurrentStore, _: CurrentPrincipal) -> JSON:
    now = datetime.now(UTC)
    return JSON(await store.read(budgets.usage_summary, store.fleet, now))
