"""The briefing as the orchestrator's model wrote it, put above the data, never in its place.

Every morning a task of kind ``briefing`` is worked by the orchestrator, whose prompt holds the
data-assembled briefing; its summary comment is the written briefing. The numbers always come
from the data: the figures sections stay the data's, and any number in the model's text that
the data does not contain is listed in ``unverified_numbers`` and shown as a warning.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from mcos.contract.requests import isoformat
from mcos.contract.vocab import ORCHESTRATOR
from mcos.domain import events as ev
from mcos.fleet.schema import Fleet
from mcos.storage import tables

BRIEFING_KIND = "briefing"
"""The task kind the orchestrator writes the briefing for."""
E = tables.events
_NUMBER = re.compile(r"(?:(?<=\bR)|(?<![\w.]))\d[\d,]*(?:\.\d+)?")
"""A number, whole (``1,250.50``), also right after a rand sign (``R85,000``)."""


def numbers_in(text: str) -> set[str]:
    """The numbers in ``text``, normalised: ``1,250.50`` and ``1250.5`` are one number."""
    found = set()
    for raw in _NUMBER.findall(text):
        number = raw.replace(",", "").rstrip(".")
        if "." in number:
            number = number.rstrip("0").rstrip(".")
        found.add(number.lstrip("0") or "0")
    return found


def _written_comment(conn: Connection, fleet: Fleet, task_id: int) -> Any:
    """The task's last comment by an orchestrator-role agent: its summary, or ``None``."""
    rows = conn.execute(
        select(E.c.ts, E.c.actor, E.c.data)
        .where(E.c.type == ev.TASK_COMMENTED, E.c.subject == f"task:{task_id}")
        .order_by(E.c.seq.desc())
    )
    for row in rows:
        config = fleet.agent(row.actor.removeprefix("agent:"))
        if row.actor.startswith("agent:") and config and config.role == ORCHESTRATOR:
            return row
    return None


def written_briefing(
    conn: Connection, fleet: Fleet, data: dict[str, Any], markdown: str
) -> dict[str, Any] | None:
    """The latest briefing written in the window by the orchestrator, with its checks: accepted
    already, or waiting in review for the operator who reads it."""
    since = datetime.fromisoformat(data["since"])
    finished = data["work"]["done"] + [
        t for t in data["work"]["review"] if datetime.fromisoformat(t["updated_at"]) >= since
    ]
    tasks = sorted(
        (t for t in finished if t["kind"] == BRIEFING_KIND),
        key=lambda t: t["id"],
        reverse=True,
    )
    for task in tasks:
        row = _written_comment(conn, fleet, task["id"])
        if row is None:
            continue
        name = row.actor.removeprefix("agent:")
        config = fleet.agent(name)
        assert config is not None
        text: str = row.data["body"]
        # The figures the operator is shown, not every id and timestamp in the data: those
        # would vouch for almost any small number.
        known = numbers_in(markdown)
        unverified = sorted(numbers_in(text) - known, key=lambda n: (float(n), n))
        return {
            "by": name,
            "label": config.label,
            "model": config.model,
            "provider": config.provider,
            "task_id": task["id"],
            "written_at": isoformat(row.ts),
            "text": text,
            "unverified_numbers": unverified,
        }
    return None


def with_written(written: dict[str, Any] | None, markdown: str) -> str:
    """The briefing's Markdown: the written text first, clearly marked, then the data's."""
    if written is None:
        return markdown
    head = [
        f"# From {written['label']} (written by the model {written['model']}; "
        "every figure below it is the data's)",
        "",
        written["text"].strip(),
        "",
    ]
    if written["unverified_numbers"]:
        head += [
            "> Warning: these numbers in the written text are not in the data: "
            + ", ".join(written["unverified_numbers"])
            + ". Trust the figures below.",
            "",
        ]
    return "\n".join([*head, "---", "", markdown])
