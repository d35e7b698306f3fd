"""/api/v1/tasks/{id}/artifacts: files on tasks — upload raw bytes, list, download, preview.

A download is always an attachment, ``nosniff``, and served as its declared type only when that
type cannot run in a browser (else ``application/octet-stream``): an agent's file is untrusted
and must never be rendered in the dashboard's origin. The dashboard shows previews (JSON text
computed here) instead.
"""

from __future__ import annotations

import hashlib
import re
from functools import partial
from typing import Annotated, Any
from urllib.parse import quote

import anyio.to_thread
from fastapi import APIRouter, Path, Query, Request
from sqlalchemy import Connection
from starlette.responses import Response

from mcos.api.auth import CurrentPrincipal, CurrentStore
from mcos.api.limits import RouteLimit
from mcos.api.params import TaskId
from mcos.api.responses import JSON
from mcos.contract.errors import errors
from mcos.contract.work import Artifact, ArtifactList, ArtifactPreview
from mcos.inputs import INT32_MAX
from mcos.services import artifacts
from mcos.services.access import Principal
from mcos.services.previews import preview
from mcos.services.store import Store

BINARY = {"type": "string", "format": "binary"}

router = APIRouter(prefix="/api/v1/tasks", tags=["artifacts"])

ArtifactId = Annotated[int, Path(ge=1, le=INT32_MAX, description="The artifact's id")]

UPLOAD_PATH = re.compile(r"/api/v1/tasks/[^/]+/artifacts")


def upload_limit(max_bytes: int) -> RouteLimit:
    """The body limit of the upload route: the artifact limit, not the JSON body cap."""
    return RouteLimit("POST", UPLOAD_PATH, max_bytes, "content")


SERVED_AS_DECLARED = frozenset(
    {
        "text/plain",
        "text/csv",
        "text/markdown",
        "application/pdf",
        "application/json",
        "application/zip",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
    }
)
"""Types a browser will not run as script or markup; everything else (HTML, SVG, XML,
JavaScript…) is served as ``application/octet-stream``."""


def served_type(content_type: str) -> str:
    kind = content_type.split(";", 1)[0].strip()
    return content_type if kind in SERVED_AS_DECLARED else "application/octet-stream"


def attachment(name: str) -> str:
    """``Content-Disposition: attachment`` with an ASCII fallback name and the UTF-8 name."""
    ascii_name = re.sub(r"[^A-Za-z0-9._ -]", "_", name).strip(" .") or "artifact"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


@router.post(
    "/{task_id}/artifacts",
    response_model=Artifact,
    status_code=201,
    summary="Attach a file to a task (the raw bytes as the body, its type as Content-Type)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    },
    responses=errors(404, 413, s413="Larger than MCOS_ARTIFACT_MAX_BYTES (field `content`)"),
)
async def upload_artifact(
    task_id: TaskId,
    request: Request,
    store: CurrentStore,
    principal: CurrentPrincipal,
    name: Annotated[str, Query(min_length=1, max_length=artifacts.MAX_NAME)],
    note: Annotated[str, Query(max_length=artifacts.MAX_NOTE)] = "",
) -> JSON:
    artifacts.check_name(name)
    content_type = artifacts.check_content_type(request.headers.get("content-type", ""))
    # Refuse a caller with no part in the task before reading megabytes from it.
    await store.read(_check_party, principal, task_id)
    blobs = store.db.blobs
    chunks, size = [], 0
    async for chunk in request.stream():  # BodyLimit stops it too; this is the running check
        size += len(chunk)
        artifacts.refuse_oversize(size, blobs.max_bytes)
        chunks.append(chunk)
    content = b"".join(chunks)
    if content:  # a file store writes outside the writer thread; the unit then finds it there
        await anyio.to_thread.run_sync(blobs.stage, hashlib.sha256(content).hexdigest(), content)
    add = partial(
        artifacts.add_artifact, name=name, content=content, content_type=content_type, note=note
    )
    return JSON(await store.write(add, principal, task_id), status_code=201)


def _check_party(conn: Connection, principal: Principal, task_id: int) -> None:
    artifacts.may_touch(conn, principal, artifacts.task_row(conn, task_id))


@router.get(
    "/{task_id}/artifacts",
    response_model=ArtifactList,
    responses=errors(404),
    summary="The task's files, every version, newest first",
)
async def list_artifacts(task_id: TaskId, store: CurrentStore, principal: CurrentPrincipal) -> JSON:
    return JSON(await store.read(artifacts.list_artifacts, principal, task_id))


async def _opened(
    store: Store, principal: Principal, task_id: int, artifact_id: int
) -> tuple[dict[str, Any], bytes]:
    """The artifact and its bytes; the first time this caller opens it, that is recorded."""
    view, content = await store.read(
        artifacts.read_content, store.db.blobs, principal, task_id, artifact_id
    )
    if principal.actor not in view["opened_by"]:
        await store.write(artifacts.record_opened, principal, task_id, artifact_id)
    return view, content


@router.get(
    "/{task_id}/artifacts/{artifact_id}/content",
    summary="Download one version (always as an attachment)",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {"schema": BINARY}}},
        **errors(404),
    },
)
async def download_artifact(
    task_id: TaskId, artifact_id: ArtifactId, store: CurrentStore, principal: CurrentPrincipal
) -> Response:
    view, content = await _opened(store, principal, task_id, artifact_id)
    return Response(
        content,
        media_type=served_type(view["content_type"]),
        headers={
            "Content-Disposition": attachment(view["name"]),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "ETag": f'"{view["sha256"]}"',
        },
    )


@router.get(
    "/{task_id}/artifacts/{artifact_id}/preview",
    response_model=ArtifactPreview,
    summary="A text preview of one version: text, Markdown, .docx paragraphs, .xlsx rows",
    responses=errors(404, 422, s422="The file cannot be read as what it claims to be"),
)
async def preview_artifact(
    task_id: TaskId, artifact_id: ArtifactId, store: CurrentStore, principal: CurrentPrincipal
) -> JSON:
    view, content = await _opened(store, principal, task_id, artifact_id)
    shown = await anyio.to_thread.run_sync(preview, view["name"], view["content_type"], content)
    return JSON({"artifact": view, "preview": shown})
