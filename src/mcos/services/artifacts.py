"""Artifacts: versioned files on tasks, stored once per content hash.

A file is named by its task and its name; each upload of a name is its next version (1, 2, 3…),
never replacing one. The content goes to the blob store (``ctx.blobs``) before the row, so a
crash leaves at most an orphan blob, never a row without content. Who may: operators, and the
agents party to the task — its assignee, its creator, the assignee's supervisor and the
orchestrator (those who may accept it, :func:`mcos.services.tasks._may_accept`); anyone else is
403. Opening a version (preview or download) is recorded once per reader; accepting the task
(review → done) records which versions were accepted, by whom, and whether they had opened them.

Server-side callers (the legal and finance tools' endpoints) call :func:`add_artifact` in their
own unit: ``store.write(add_artifact, principal, task_id, name=…, content=…, content_type=…)``.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from sqlalchemy import Connection, func, insert, select

from mcos.contract.requests import isoformat
from mcos.contract.vocab import ORCHESTRATOR
from mcos.domain import events as ev
from mcos.errors import Forbidden, InvalidInput, NotFound, PayloadTooLarge, ServiceUnavailable
from mcos.services.access import Principal
from mcos.storage import tables
from mcos.storage.blobs import BlobMissing, BlobStore
from mcos.storage.writer import WriteContext

AR, T = tables.artifacts, tables.tasks
OPENS, ACCEPTED = tables.artifact_opens, tables.artifact_acceptances

MAX_NAME = 200
MAX_NOTE = 2_000

TOP_LEVEL_TYPES = frozenset({"text", "application", "image", "audio", "video", "font"})
_TOKEN = r"[a-z0-9][a-z0-9!#$&^_.+-]{0,99}"
CONTENT_TYPE = re.compile(rf"^({_TOKEN})/({_TOKEN})(\s*;\s*charset=([a-z0-9_.:-]{{1,40}}))?$")
"""``type/subtype`` with at most a charset: what is declared is stored, never sniffed."""


def check_name(name: str) -> str:
    """A file name: no folders, no control characters, at most :data:`MAX_NAME` characters."""
    problem = None
    if not name or name.strip() != name:
        problem = "is empty or starts or ends with a space"
    elif len(name) > MAX_NAME:
        problem = f"is longer than {MAX_NAME} characters"
    elif "/" in name or "\\" in name:
        problem = "contains a path separator; give a file name, not a path"
    elif name in (".", "..") or any(ord(c) < 32 or ord(c) == 127 for c in name):
        problem = "is not a file name (a dot name or a control character)"
    if problem:
        raise InvalidInput(f"the artifact name {name[:80]!r} {problem}", field="name")
    return name


def check_content_type(declared: str) -> str:
    """The declared content type, normalised (lowercase, only a charset kept), or 422."""
    value = declared.strip().lower()
    match = CONTENT_TYPE.match(value)
    if match is None or match.group(1) not in TOP_LEVEL_TYPES:
        raise InvalidInput(
            f"content type {declared[:100]!r} is not a media type such as 'text/markdown' or "
            "'application/vnd.openxmlformats-officedocument.wordprocessingml.document' "
            f"(type one of {', '.join(sorted(TOP_LEVEL_TYPES))})",
            field="content_type",
        )
    kind = f"{match.group(1)}/{match.group(2)}"
    return f"{kind}; charset={match.group(4)}" if match.group(4) else kind


def refuse_oversize(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise PayloadTooLarge(
            f"the file is larger than the artifact limit of {max_bytes:,} bytes "
            "(MCOS_ARTIFACT_MAX_BYTES)",
            field="content",
        )


def artifact_view(row: Any, opened_by: list[str] | None = None) -> dict[str, Any]:
    return {
        "id": row.id,
        "task_id": row.task_id,
        "name": row.name,
        "version": row.version,
        "sha256": row.sha256,
        "size": row.size,
        "content_type": row.content_type,
        "created_by": row.created_by,
        "created_at": isoformat(row.created_at),
        "note": row.note,
        "opened_by": opened_by or [],
    }


def task_row(conn: Connection, task_id: int) -> Any:
    row = conn.execute(select(T).where(T.c.id == task_id)).first()
    if row is None:
        raise NotFound(f"no task #{task_id}", field="task_id")
    return row


def may_touch(conn: Connection, principal: Principal, task: Any) -> None:
    """Operators, and the agents party to the task; 403 for any other agent."""
    if principal.is_operator:
        return
    if principal.name == task.assignee or principal.actor == task.creator:
        return
    A = tables.agents
    if task.assignee is not None:
        supervisor = conn.execute(select(A.c.supervisor).where(A.c.name == task.assignee))
        if supervisor.scalar() == principal.name:
            return
    role = conn.execute(select(A.c.role).where(A.c.name == principal.name)).scalar()
    if principal.kind == "agent" and role == ORCHESTRATOR:
        return
    raise Forbidden(
        f"agent {principal.name!r} is not party to task #{task.id}: its files are for its "
        "assignee, its creator, the assignee's supervisor, the orchestrator and operators",
        field="task_id",
    )


def _blobs(blobs: BlobStore | None) -> BlobStore:
    if blobs is None:
        raise ServiceUnavailable("no artifact store is configured for this database")
    return blobs


def add_artifact(
    ctx: WriteContext,
    principal: Principal,
    task_id: int,
    *,
    name: str,
    content: bytes,
    content_type: str,
    note: str = "",
) -> dict[str, Any]:
    """Store ``content`` as the next version of ``name`` on the task; ``artifact.added``."""
    conn, blobs = ctx.conn, _blobs(ctx.blobs)
    task = task_row(conn, task_id)
    may_touch(conn, principal, task)
    name = check_name(name)
    content_type = check_content_type(content_type)
    if len(note) > MAX_NOTE or "\x00" in note:
        raise InvalidInput(
            f"the note is longer than {MAX_NOTE} characters or has a NUL", field="note"
        )
    if not content:
        raise InvalidInput("the file is empty; attach a file with content", field="content")
    refuse_oversize(len(content), blobs.max_bytes)
    sha256 = hashlib.sha256(content).hexdigest()
    blobs.put(conn, sha256, content)  # before the row: never a row without its content
    latest = conn.execute(
        select(func.max(AR.c.version)).where(AR.c.task_id == task_id, AR.c.name == name)
    ).scalar()
    artifact_id = conn.execute(
        insert(AR).values(
            task_id=task_id,
            name=name,
            version=(latest or 0) + 1,
            sha256=sha256,
            size=len(content),
            content_type=content_type,
            created_by=principal.actor,
            created_at=ctx.now,
            note=note,
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    view = artifact_view(conn.execute(select(AR).where(AR.c.id == artifact_id)).one())
    ctx.append(
        ev.ARTIFACT_ADDED,
        principal.actor,
        f"task:{task_id}",
        {k: view[k] for k in ("id", "name", "version", "sha256", "size", "content_type", "note")}
        | {"task": task_id, "title": task.title, "assignee": task.assignee},
    )
    return view


def _opened_by(conn: Connection, ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    if ids:
        rows = conn.execute(
            select(OPENS.c.artifact_id, OPENS.c.actor)
            .where(OPENS.c.artifact_id.in_(ids))
            .order_by(OPENS.c.opened_at)
        )
        for r in rows:
            found.setdefault(r.artifact_id, []).append(r.actor)
    return found


def list_artifacts(conn: Connection, principal: Principal, task_id: int) -> dict[str, Any]:
    """Every version on the task, newest first, and what was accepted when it was done."""
    may_touch(conn, principal, task_row(conn, task_id))
    rows = list(conn.execute(select(AR).where(AR.c.task_id == task_id).order_by(AR.c.id.desc())))
    opened = _opened_by(conn, [r.id for r in rows])
    accepted = conn.execute(
        select(ACCEPTED, AR.c.name, AR.c.version)
        .join(AR, AR.c.id == ACCEPTED.c.artifact_id)
        .where(ACCEPTED.c.task_id == task_id)
        .order_by(ACCEPTED.c.id)
    )
    return {
        "artifacts": [artifact_view(r, opened.get(r.id)) for r in rows],
        "acceptances": [
            {
                "artifact_id": a.artifact_id,
                "name": a.name,
                "version": a.version,
                "accepted_by": a.accepted_by,
                "opened": a.opened,
                "accepted_at": isoformat(a.accepted_at),
            }
            for a in accepted
        ],
    }


def _artifact(conn: Connection, principal: Principal, task_id: int, artifact_id: int) -> Any:
    may_touch(conn, principal, task_row(conn, task_id))
    row = conn.execute(select(AR).where(AR.c.id == artifact_id, AR.c.task_id == task_id)).first()
    if row is None:
        raise NotFound(f"no artifact #{artifact_id} on task #{task_id}", field="artifact_id")
    return row


def get_artifact(
    conn: Connection, principal: Principal, task_id: int, artifact_id: int
) -> dict[str, Any]:
    row = _artifact(conn, principal, task_id, artifact_id)
    return artifact_view(row, _opened_by(conn, [row.id]).get(row.id))


def read_content(
    conn: Connection, blobs: BlobStore, principal: Principal, task_id: int, artifact_id: int
) -> tuple[dict[str, Any], bytes]:
    """The artifact's view and its bytes (checked against its hash)."""
    view = get_artifact(conn, principal, task_id, artifact_id)
    content = blobs.get(conn, view["sha256"])
    if hashlib.sha256(content).hexdigest() != view["sha256"]:
        raise BlobMissing(
            f"the stored content of artifact #{artifact_id} does not match its hash "
            f"{view['sha256']}; restore it from a backup"
        )
    return view, content


def record_opened(
    ctx: WriteContext, principal: Principal, task_id: int, artifact_id: int
) -> dict[str, Any]:
    """Note that ``principal`` opened this version (once: ``artifact.opened`` the first time)."""
    row = _artifact(ctx.conn, principal, task_id, artifact_id)
    seen = ctx.conn.execute(
        select(OPENS.c.actor).where(
            OPENS.c.artifact_id == artifact_id, OPENS.c.actor == principal.actor
        )
    ).first()
    if seen is None:
        ctx.conn.execute(
            insert(OPENS).values(artifact_id=artifact_id, actor=principal.actor, opened_at=ctx.now)
        )
        ctx.append(
            ev.ARTIFACT_OPENED,
            principal.actor,
            f"task:{task_id}",
            {"task": task_id, "id": artifact_id, "name": row.name, "version": row.version},
        )
    return {"task": task_id, "id": artifact_id, "opened_by": principal.actor}


def record_acceptance(ctx: WriteContext, principal: Principal, task_id: int) -> list[Any]:
    """At review → done: the newest version of each file, accepted by ``principal``, and
    whether they had opened it. One ``artifact.accepted`` when the task has files."""
    conn = ctx.conn
    newest = (
        select(AR.c.name, func.max(AR.c.version).label("version"))
        .where(AR.c.task_id == task_id)
        .group_by(AR.c.name)
        .subquery()
    )
    rows = conn.execute(
        select(AR)
        .join(newest, (newest.c.name == AR.c.name) & (newest.c.version == AR.c.version))
        .where(AR.c.task_id == task_id)
        .order_by(AR.c.name)
    ).all()
    if not rows:
        return []
    opened = {
        r.artifact_id
        for r in conn.execute(
            select(OPENS.c.artifact_id).where(
                OPENS.c.artifact_id.in_([r.id for r in rows]), OPENS.c.actor == principal.actor
            )
        )
    }
    accepted = [
        {"artifact_id": r.id, "name": r.name, "version": r.version, "opened": r.id in opened}
        for r in rows
    ]
    conn.execute(
        insert(ACCEPTED),
        [
            {
                "task_id": task_id,
                "artifact_id": a["artifact_id"],
                "accepted_by": principal.actor,
                "opened": a["opened"],
                "accepted_at": ctx.now,
            }
            for a in accepted
        ],
    )
    ctx.append(
        ev.ARTIFACT_ACCEPTED,
        principal.actor,
        f"task:{task_id}",
        {
            "task": task_id,
            "artifacts": accepted,
            "unopened": sum(not a["opened"] for a in accepted),
        },
    )
    return accepted


def count_by_task(conn: Connection) -> dict[int, int]:
    """How many files (distinct names) each task carries, for the board's cards."""
    rows = conn.execute(
        select(AR.c.task_id, func.count(func.distinct(AR.c.name))).group_by(AR.c.task_id)
    )
    return {task_id: int(n) for task_id, n in rows}
