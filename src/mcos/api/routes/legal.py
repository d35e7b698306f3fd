"""/api/v1/legal and /api/v1/tasks/{id}/drafts: legal drafts rendered and checked here.

The registry is the one the control plane loaded with the fleet file (``app.state.registry``);
rendering and checking run in a worker thread, outside the writer.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from zoneinfo import ZoneInfo

import anyio.to_thread
from fastapi import APIRouter, Request

from mcos.api.auth import CurrentPrincipal, CurrentStore
from mcos.api.params import TaskId
from mcos.api.responses import JSON
from mcos.contract.errors import errors
from mcos.contract.work import LegalCheck, LegalDraft, LegalTemplates
from mcos.errors import Forbidden, InvalidInput
from mcos.fleet.registry import Registry
from mcos.fleet.schema import Agent
from mcos.legal.render import DraftRefused, check_draft, render
from mcos.legal.schemas import CheckIn, DraftIn
from mcos.legal.template import templates
from mcos.services import legal_drafts
from mcos.services.access import Principal

router = APIRouter(prefix="/api/v1", tags=["legal"])


def _registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


@router.get(
    "/legal/templates",
    response_model=LegalTemplates,
    responses=errors(),
    summary="Legal document templates: their parties and fields",
)
async def list_templates(_: CurrentPrincipal) -> JSON:
    return JSON({"templates": [t.summary() for t in templates().values()]})


@router.post(
    "/tasks/{task_id}/drafts",
    response_model=LegalDraft,
    responses=errors(404, 409),
    status_code=201,
    summary="Render a legal draft from the registry, check it, attach it and send it to review",
    description="The parties are registry keys by role; their names, numbers, addresses and "
    "signatories come from the entity registry only. A draft that disagrees with the registry "
    "is refused (422 `draft_refused`, naming each disagreement and the registry's value) and "
    "recorded as `legal.draft_refused`. Agents need the `legal.draft` capability and must be "
    "party to the task.",
)
async def create_draft(
    task_id: TaskId,
    body: DraftIn,
    request: Request,
    store: CurrentStore,
    principal: CurrentPrincipal,
) -> JSON:
    fleet = store.fleet
    await store.read(legal_drafts.may_draft, fleet, principal, task_id)
    registry = _registry(request)
    today = datetime.now(ZoneInfo(fleet.fleet.timezone)).date()
    try:
        draft = await anyio.to_thread.run_sync(
            lambda: render(body.template, body.parties, body.fields, registry, today=today)
        )
    except DraftRefused as exc:
        await store.write(legal_drafts.record_refusal, principal, task_id, body, exc)
        raise AssertionError("a refusal is raised by Store.write") from exc
    view = await store.write(legal_drafts.attach_draft, fleet, principal, task_id, body, draft)
    return JSON(view, status_code=201)


@router.post(
    "/legal/check",
    response_model=LegalCheck,
    responses=errors(),
    summary="Check a .docx made elsewhere against the registry, as a draft of a template",
    description="Answers the disagreements (empty when the file agrees with the registry). "
    "Operators, and agents with the `legal.draft` capability.",
)
async def check_upload(
    body: CheckIn, request: Request, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    _may_check(store.fleet.agent(principal.name), principal)
    try:
        content = base64.b64decode(body.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("content_base64 is not base64", field="content_base64") from None
    registry = _registry(request)
    found = await anyio.to_thread.run_sync(
        lambda: check_draft(content, body.template, body.parties, registry)
    )
    return JSON(
        {
            "agrees": not found,
            "disagreements": [
                {"rule": d.rule, "found": d.found, "message": d.message} for d in found
            ],
        }
    )


def _may_check(agent: Agent | None, principal: Principal) -> None:
    if principal.is_operator:
        return
    if agent is None or legal_drafts.LEGAL_DRAFT not in agent.capabilities:
        raise Forbidden(
            f"agent {principal.name!r} lacks the {legal_drafts.LEGAL_DRAFT!r} capability "
            "needed to check legal drafts",
            field="template",
        )
