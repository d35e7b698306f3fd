"""Legal drafts on tasks: rendered from the entity registry, checked, attached, sent to review.

The control plane renders (``mcos.legal.render``), so the registry's facts are the only party
facts a draft can carry and the checker cannot be skipped: an agent sends the template, the
parties by registry key and the variable fields, never a file. A draft that disagrees with the
registry is refused (422 ``draft_refused``) with a ``legal.draft_refused`` event naming each
disagreement; a good one is the next version of its artifact on the task, with a comment, and
the task goes to review — "Apex drafts, I review, we refine".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from mcos.contract.requests import TaskComment, TaskMove
from mcos.domain import events as ev
from mcos.domain.kanban import TaskStatus
from mcos.errors import Forbidden, IllegalTransition
from mcos.fleet.schema import Fleet
from mcos.legal.docx_io import DOCX_CONTENT_TYPE
from mcos.legal.render import Draft, DraftRefused
from mcos.legal.schemas import DraftIn
from mcos.services import tasks
from mcos.services.access import Principal
from mcos.services.approvals import active_grants
from mcos.services.artifacts import add_artifact, may_touch, task_row
from mcos.services.refusals import Refusal, refuse, refuse_duplicate
from mcos.storage.writer import WriteContext

LEGAL_DRAFT = "legal.draft"
"""The capability an agent needs to draft legal documents (the fleet file, or a restoration)."""


def may_draft(
    conn: Connection, fleet: Fleet, principal: Principal, task_id: int, now: datetime | None = None
) -> Any:
    """The task, if ``principal`` may put a draft on it: party to the task, and (an agent)
    holding ``legal.draft``."""
    task = task_row(conn, task_id)
    may_touch(conn, principal, task)
    if principal.kind == "agent":
        agent = fleet.agent(principal.name)
        held = set(agent.capabilities) if agent is not None else set()
        held |= {g.capability for g in active_grants(conn, principal.name, now or _now())}
        if LEGAL_DRAFT not in held:
            raise Forbidden(
                f"agent {principal.name!r} lacks the {LEGAL_DRAFT!r} capability needed to draft "
                "legal documents; it is given in the fleet file (capabilities) or restored by "
                "an operator's approval",
                field="template",
            )
    if task.status == TaskStatus.DONE.value:
        raise IllegalTransition(
            f"task #{task_id} is done; a new draft belongs on a new task", field="task_id"
        )
    return task


def _now() -> datetime:
    return datetime.now(UTC)


def record_refusal(
    ctx: WriteContext, principal: Principal, task_id: int, body: DraftIn, error: DraftRefused
) -> Refusal:
    """``legal.draft_refused`` with every disagreement; the caller gets the 422."""
    refuse_duplicate(ctx, principal.actor, body.id, "draft")
    return refuse(
        ctx,
        error,
        ev.LEGAL_DRAFT_REFUSED,
        principal.actor,
        f"task:{task_id}",
        {
            "task": task_id,
            "template": body.template,
            "parties": body.parties,
            "reasons": [d.message for d in error.disagreements],
            "disagreements": [
                {"rule": d.rule, "found": d.found, "message": d.message}
                for d in error.disagreements
            ],
        },
        client_id=body.id,
    )


def _to_review(ctx: WriteContext, principal: Principal, task: Any) -> str:
    """Move the task on to review the way a person would (assigned → in progress → review)."""
    status = TaskStatus(task.status)
    if task.assignee is None or status in (TaskStatus.REVIEW, TaskStatus.INBOX):
        return status.value
    if status == TaskStatus.ASSIGNED:
        tasks.move_task(ctx, principal, task.id, TaskMove(status=TaskStatus.IN_PROGRESS))
    moved = tasks.move_task(
        ctx,
        principal,
        task.id,
        TaskMove(status=TaskStatus.REVIEW, reason="a legal draft is attached for review"),
    )
    return str(moved["status"])


def attach_draft(
    ctx: WriteContext,
    fleet: Fleet,
    principal: Principal,
    task_id: int,
    body: DraftIn,
    draft: Draft,
) -> dict[str, Any]:
    """The checked draft as the next version of its artifact, a comment, and review."""
    refuse_duplicate(ctx, principal.actor, body.id, "draft")
    task = may_draft(ctx.conn, fleet, principal, task_id, ctx.now)
    artifact = add_artifact(
        ctx,
        principal,
        task_id,
        name=draft.filename,
        content=draft.content,
        content_type=DOCX_CONTENT_TYPE,
        note=body.note,
    )
    between = " and ".join(f"{p.name} (the {p.term})" for p in draft.parties)
    comment = (
        f"{draft.template.title} v{artifact['version']} attached as {artifact['name']}, "
        f"between {between}; checked against the entity registry."
        + (f" Changes: {body.note}" if body.note else "")
    )
    tasks.comment_task(ctx, principal, task_id, TaskComment(body=comment))
    status = _to_review(ctx, principal, task)
    parties = {
        p.role: {"key": p.key, "name": p.name, "registration_number": p.registration_number}
        for p in draft.parties
    }
    ctx.append(
        ev.LEGAL_DRAFTED,
        principal.actor,
        f"task:{task_id}",
        {
            "task": task_id,
            "template": draft.template.key,
            "artifact": artifact["id"],
            "name": artifact["name"],
            "version": artifact["version"],
            "parties": parties,
        },
        client_id=body.id,
    )
    return {
        "task": task_id,
        "status": status,
        "template": draft.template.key,
        "parties": parties,
        "artifact": artifact,
    }
