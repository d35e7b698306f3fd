"""Files on tasks: ``attach_file`` (a workspace file becomes an artifact) and ``read_artifact``.

``attach_file`` (capability ``write``) uploads the file's bytes through
:meth:`mcos.runtime.client.AgentLink.upload_artifact`, typed by its extension. ``read_artifact``
(capability ``read``) reads the server's preview of an artifact — text, never the raw file — and
gives it to the model fenced as untrusted data: another agent (or a person) wrote it, and an
instruction inside it is part of the file, not an order. The control plane decides who may do
either (the agents party to the task).
"""

from __future__ import annotations

import mimetypes
from typing import Any

from pydantic import Field

from mcos.contract import paths
from mcos.domain.untrusted import fence
from mcos.runtime import files
from mcos.runtime.permission import ToolError
from mcos.runtime.tooling import Tool, ToolArgs, ToolContext, cap_output

MAX_ATTACH_BYTES = 256 * 1024 * 1024
"""Read at most this much of a file to attach; the control plane's own limit is usually lower."""
KNOWN_TYPES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".csv": "text/csv",
    ".txt": "text/plain",
    ".log": "text/plain",
    ".json": "application/json",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pdf": "application/pdf",
}
"""Extensions typed the same on every machine (``mimetypes`` reads the system's tables)."""


def content_type_of(name: str) -> str:
    lowered = name.lower()
    for suffix, kind in KNOWN_TYPES.items():
        if lowered.endswith(suffix):
            return kind
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


class AttachFile(ToolArgs):
    path: str = Field(min_length=1, description="The file, relative to your workspace.")
    task_id: int | None = Field(None, ge=1, description="The task (default: your current one).")
    name: str | None = Field(
        None, max_length=200, description="The file name on the task (default: the file's)."
    )
    note: str = Field("", max_length=2_000, description="One line: what this version is.")


class ReadArtifact(ToolArgs):
    task_id: int | None = Field(None, ge=1, description="The task (default: your current one).")
    name: str | None = Field(
        None, max_length=200, description="The file's name: its newest version is read."
    )
    artifact_id: int | None = Field(None, ge=1, description="Or exactly this version's id.")


def _task(ctx: ToolContext, task_id: int | None) -> int:
    chosen = task_id or ctx.task_id
    if chosen is None:
        raise ToolError("you are not working on a task now; give task_id")
    return chosen


async def _attach_file(ctx: ToolContext, args: AttachFile) -> str:
    task_id = _task(ctx, args.task_id)
    try:
        parts = files.workspace_parts(args.path)
        content = files.read_bytes_at(
            ctx.workspace.root, parts, limit=MAX_ATTACH_BYTES, shown=args.path
        )
    except files.UnsafePath as exc:
        raise ToolError(str(exc)) from None
    if content is None:
        raise ToolError(f"no file {args.path!r} in your workspace")
    if len(content) > MAX_ATTACH_BYTES:
        raise ToolError(f"{args.path} is larger than {MAX_ATTACH_BYTES:,} bytes; attach less")
    name = args.name or parts[-1]
    stored = await ctx.link.upload_artifact(
        task_id, name, content, content_type_of(name), args.note
    )
    return (
        f"attached {stored['name']} v{stored['version']} to task #{task_id} "
        f"({stored['size']:,} bytes, {stored['content_type']}; artifact #{stored['id']})"
    )


def _chosen(listed: list[dict[str, Any]], args: ReadArtifact, task_id: int) -> dict[str, Any]:
    if args.artifact_id is not None:
        for artifact in listed:
            if artifact["id"] == args.artifact_id:
                return artifact
        raise ToolError(f"no artifact #{args.artifact_id} on task #{task_id}")
    named = [a for a in listed if args.name is None or a["name"] == args.name]
    if not named:
        names = sorted({a["name"] for a in listed})
        raise ToolError(
            f"no file named {args.name!r} on task #{task_id}; it has: {', '.join(names)}"
            if names
            else f"task #{task_id} has no files"
        )
    if args.name is None and len({a["name"] for a in named}) > 1:
        names = sorted({a["name"] for a in named})
        raise ToolError(f"task #{task_id} has several files; name one of: {', '.join(names)}")
    return max(named, key=lambda a: int(a["version"]))


async def _read_artifact(ctx: ToolContext, args: ReadArtifact) -> str:
    task_id = _task(ctx, args.task_id)
    listed = await ctx.link.ask("GET", paths.artifacts(task_id))
    artifact = _chosen(listed["artifacts"], args, task_id)
    answer = await ctx.link.ask("GET", paths.artifact_preview(task_id, artifact["id"]))
    shown = answer["preview"]
    title = f"{artifact['name']} v{artifact['version']} by {artifact['created_by']}"
    if shown["kind"] == "none":
        return f"{title}: {artifact['content_type']}, {artifact['size']:,} bytes; no text preview"
    clipped = "\n[... clipped: only the start is shown]" if shown.get("clipped") else ""
    return cap_output(
        fence("artifact", f"id={artifact['id']}", f"the file {title}", shown["text"] + clipped)
    )


ARTIFACT_TOOLS: tuple[Tool, ...] = (
    Tool(
        "attach_file",
        "Attach a file from your workspace to a task (a new version if the name exists); the "
        "operator opens it from the card.",
        AttachFile,
        _attach_file,
        "write",
    ),
    Tool(
        "read_artifact",
        "Read a file attached to a task you are party to, as text (.docx paragraphs, .xlsx "
        "first rows, Markdown, text).",
        ReadArtifact,
        _read_artifact,
        "read",
    ),
)
