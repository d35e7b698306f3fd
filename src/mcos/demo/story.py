"""What the day's scenes share: reading an event's data, waiting for a task to move, and the
operator's acceptance of finished work."""

from __future__ import annotations

from typing import Any

from mcos.client import ApiError, Unreachable
from mcos.contract import paths
from mcos.demo.director import Director


def data(event: dict[str, Any] | None) -> dict[str, Any]:
    return dict(event["data"]) if event else {}


async def task_reaches(d: Director, task_id: int, statuses: tuple[str, ...], after: int) -> bool:
    moved = await d.wait_for(
        "task.moved",
        after,
        lambda e: e["data"].get("task") == task_id and e["data"].get("to") in statuses,
    )
    return moved is not None


async def accepted(d: Director, task_id: int, after: int) -> bool:
    """Once the agent leaves its work in review, the operator (the director) accepts it."""
    if not await task_reaches(d, task_id, ("review",), after):
        return False
    await d.accept(task_id)
    return True


async def newest_file(
    d: Director, task_id: int, suffix: str
) -> tuple[dict[str, Any], bytes] | None:
    """The newest version of the task's file ending in ``suffix`` and its bytes, downloaded as
    the operator opens it (the card then shows the operator opened that version)."""
    listed = await d.call("GET", paths.artifacts(task_id))
    found = [a for a in listed["artifacts"] if a["name"].lower().endswith(suffix)]
    if not found:
        return None
    newest = max(found, key=lambda a: (a["name"], a["version"]))
    try:
        content = await d.api.download(paths.artifact_content(task_id, newest["id"]))
    except (ApiError, Unreachable):
        return None
    return newest, content
