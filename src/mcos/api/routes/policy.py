"""/api/v1/actions and /api/v1/approvals: ask before acting; decide what needs approval."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from mcos.api.auth import CurrentPrincipal, CurrentStore
from mcos.api.responses import JSON
from mcos.schemas import ActionRequest, ApprovalDecision, CapabilityRestore
from mcos.services import actions, approvals

router = APIRouter(prefix="/api/v1", tags=["guardrails"])


@router.post(
    "/actions",
    summary="Ask before acting: allowed (200), needs approval (202), or refused (403)",
    responses={202: {"description": "Needs approval; the answer names the approval to wait for"}},
)
async def check_action(
    body: ActionRequest, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    answer = await store.write(actions.check_action, store.fleet, principal, body)
    return JSON(answer, status_code=202 if answer["decision"] == "needs_approval" else 200)


@router.post("/approvals", status_code=201, summary="Ask an operator to restore a capability")
async def request_restore(
    body: CapabilityRestore, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    return JSON(
        await store.write(approvals.request_restore, store.fleet, principal, body), status_code=201
    )


@router.get("/approvals", summary="Approvals, newest first")
async def list_approvals(
    store: CurrentStore,
    _: CurrentPrincipal,
    status: Literal["pending", "approved", "denied", "expired", "applied"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 200,
) -> JSON:
    now = datetime.now(UTC)
    items = await store.read(
        lambda conn: approvals.list_approvals(conn, now, status=status, limit=limit)
    )
    return JSON({"approvals": items})


@router.get("/approvals/{approval_id}", summary="One approval with its decisions")
async def show_approval(approval_id: int, store: CurrentStore, _: CurrentPrincipal) -> JSON:
    return JSON(await store.read(approvals.get_approval, approval_id, datetime.now(UTC)))


@router.post("/approvals/{approval_id}/approve", summary="Approve, as one of the required parties")
async def approve(
    approval_id: int, body: ApprovalDecision, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    return JSON(
        await store.write(
            approvals.decide_approval, store.fleet, principal, approval_id, "approve", body
        )
    )


@router.post("/approvals/{approval_id}/deny", summary="Deny: one denial ends the approval")
async def deny(
    approval_id: int, body: ApprovalDecision, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    return JSON(
        await store.write(
            approvals.decide_approval, store.fleet, principal, approval_id, "deny", body
        )
    )
