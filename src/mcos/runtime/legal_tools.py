"""Legal drafting tools: ``list_templates`` and ``draft_document``.

Offered to agents with the ``legal.draft`` capability. The control plane renders and checks
the draft (``POST /api/v1/tasks/{id}/drafts``): the model names the parties by their registry
keys and fills the variable fields; names, registration numbers, addresses and signatories come
from the entity registry only. A refusal comes back as a tool error naming each disagreement.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from mcos.contract import paths
from mcos.legal.template import templates
from mcos.runtime.orchestration_tools import NoArgs
from mcos.runtime.permission import ToolError
from mcos.runtime.tooling import Tool, ToolArgs, ToolContext, cap_output

LEGAL_DRAFT = "legal.draft"


def _catalogue() -> str:
    """Each template with its parties and fields, as the model reads it."""
    lines = []
    for t in templates().values():
        roles = ", ".join(f"{p.role} ({p.kind})" for p in t.parties)
        fields = ", ".join(
            f"{f.name}: {f.type}" + ("" if f.required and f.default is None else " (optional)")
            for f in t.fields
        )
        lines.append(f"- {t.key}: {t.description} Parties: {roles}. Fields: {fields}.")
    return "\n".join(lines)


class DraftDocument(ToolArgs):
    template: str = Field(description="The template's key, as list_templates gives it.")
    parties: dict[str, str] = Field(
        description="Each party role of the template and the registry key of the company or "
        'person in it, e.g. {"client": "velocity-fibre", "contractor": "mokoena-splicing"}.'
    )
    fields: dict[str, Any] = Field(
        default_factory=dict,
        description="The variable fields only (dates as YYYY-MM-DD, rand amounts as numbers, "
        "lines as a list of strings). Never party names, numbers or signatories: those come "
        "from the registry.",
    )
    note: str = Field("", max_length=2_000, description="What changed in this version.")
    task_id: int | None = Field(None, ge=1, description="Default: the task you are working on.")


async def _list_templates(ctx: ToolContext, _: NoArgs) -> str:
    listed = (await ctx.link.ask("GET", paths.LEGAL_TEMPLATES))["templates"]
    out = []
    for t in listed:
        out.append(f"{t['key']} ({t['style']}): {t['description']}")
        out += [f"  party {p['role']} ({p['kind']}): {p['description']}" for p in t["parties"]]
        for f in t["fields"]:
            extra = f" one of {f['choices']}" if f.get("choices") else ""
            need = "required" if f["required"] else f"optional, default {f.get('default', '-')}"
            out.append(f"  field {f['name']} ({f['type']}{extra}, {need}): {f['description']}")
    return cap_output("\n".join(out))


async def _draft_document(ctx: ToolContext, args: DraftDocument) -> str:
    task_id = args.task_id or ctx.task_id
    if task_id is None:
        raise ToolError("give task_id: a draft is attached to a task")
    body = {
        "template": args.template,
        "parties": args.parties,
        "fields": args.fields,
        "note": args.note,
    }
    done = await ctx.link.ask("POST", paths.legal_drafts(task_id), body)
    artifact = done["artifact"]
    parties = "; ".join(
        f"{role}: {p['name']}"
        + (f" ({p['registration_number']})" if p["registration_number"] else "")
        for role, p in done["parties"].items()
    )
    return (
        f"attached {artifact['name']} version {artifact['version']} to task #{task_id}, "
        f"checked against the registry (parties {parties}); the task is now {done['status']}. "
        "The operator reviews it; their comments come back to you as a new request."
    )


LEGAL_TOOLS: tuple[Tool, ...] = (
    Tool(
        "list_templates",
        "The legal document templates, each with its party roles and fields.",
        NoArgs,
        _list_templates,
        LEGAL_DRAFT,
    ),
    Tool(
        "draft_document",
        "Draft a South African legal document as a .docx attached to the task and sent to "
        "review. The control plane fills every party fact from the entity registry and refuses "
        "a draft that disagrees with it (the error names each disagreement). Templates:\n"
        + _catalogue(),
        DraftDocument,
        _draft_document,
        LEGAL_DRAFT,
        moves_task_to="review",
    ),
)
