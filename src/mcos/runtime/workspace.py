"""An agent's workspace: its identity file, its daily memory notes, its files and its saved state.

Layout, under ``<workspaces>/<agent>/``::

    SOUL.md                 who the agent is; written once from its role template, then the
                            operator's (see mcos.fleet.soul_templates)
    memory/YYYY-MM-DD.md    the daily notes: the memory flush writes here before a compaction
    .mcos/state.json        where the runtime was, as earlier runners saved it: read once and
                            removed (runners now keep it in their outbox, see AgentLoop.save)
    ...                     whatever the agent writes with its tools

Every file here is opened through :mod:`mcos.runtime.files`: walked down from the workspace's
folder with no symbolic link followed, so neither a tool's path nor one the runtime writes itself
(notes) can be led out of the workspace by a link an agent planted.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

from mcos.fleet.schema import Agent, Fleet
from mcos.fleet.soul_templates import facts, find_template, render
from mcos.runtime.files import (
    UnsafePath,
    append_bytes_at,
    read_bytes_at,
    remove_at,
    replace_bytes_at,
    workspace_path,
)

SOUL_FILE = "SOUL.md"
MEMORY_DIR = "memory"
STATE_FILE = Path(".mcos") / "state.json"
MAX_SOUL_BYTES = 200_000
MAX_NOTE_BYTES = 2_000_000
MAX_STATE_BYTES = 1 << 30

GENERIC_DUTY = "You do the work your role describes and report progress on your tasks."


def soul_text(fleet: Fleet, agent: Agent, souls: Path | None = None) -> str:
    """The identity file written for a new agent; the operator may edit it freely afterwards.

    From its role template (``souls``: the fleet folder's ``souls/``, see
    :mod:`mcos.fleet.soul_templates` for the precedence), else a generic text from its role.
    """
    template = find_template(agent, souls)
    if template is not None:
        return render(template.text, facts(fleet, agent))
    title = f", {agent.title}" if agent.title else ""
    capabilities = ", ".join(agent.capabilities) or "none"
    supervisor = "the operator (a person)" if agent.supervisor == "operator" else agent.supervisor
    return (
        f"# {agent.label}\n\n"
        f"You are {agent.label}{title}, the {agent.role} agent of {fleet.fleet.name}.\n\n"
        f"{GENERIC_DUTY}\n\n"
        "## Ground rules\n\n"
        f"- Your capabilities are: {capabilities}. Ask for nothing else; a refusal is final "
        "until an operator restores a capability.\n"
        f"- Your supervisor is {supervisor}. Escalate to them when you are stuck.\n"
        "- Before your context is compacted you will be asked to write what matters to your "
        "daily memory note. Write decisions, commitments and open threads, not chatter, and "
        "never a secret (a password, key, token, bank or ID number).\n"
        "- Raise an incident only for what you have evidence of; say what the evidence is.\n"
    )


@dataclass
class Workspace:
    root: Path

    @classmethod
    def open(cls, base: Path, fleet: Fleet, agent: Agent, souls: Path | None = None) -> Workspace:
        """The agent's workspace, created with its identity file on first use (from the role
        templates in ``souls``, the fleet folder's ``souls/``). An identity file already there
        is never replaced, nor anything planted under its name (a link is not followed)."""
        root = (base / agent.name).resolve()
        (root / MEMORY_DIR).mkdir(parents=True, exist_ok=True)
        (root / STATE_FILE).parent.mkdir(parents=True, exist_ok=True)
        soul = root / SOUL_FILE
        if not soul.exists() and not soul.is_symlink():
            replace_bytes_at(root, (SOUL_FILE,), soul_text(fleet, agent, souls).encode())
        return cls(root)

    def soul(self) -> str:
        try:
            text = read_bytes_at(self.root, (SOUL_FILE,), limit=MAX_SOUL_BYTES)
        except UnsafePath as exc:
            return f"(your identity file could not be read: {exc})"
        return (text or b"").decode("utf-8", errors="replace")

    def resolve(self, relative: str) -> Path:
        """The absolute path ``relative`` names in the workspace, or ``ValueError`` saying why
        not (``..``, absolute, ``.mcos``). For callers that need a path to show or to ask
        about; never open it (a link swapped in later would be followed): open with
        :mod:`mcos.runtime.files`."""
        return workspace_path(self.root, relative)

    # -- memory notes -------------------------------------------------------------------

    def note_path(self, day: date) -> Path:
        return self.root / MEMORY_DIR / f"{day.isoformat()}.md"

    def append_note(self, day: date, heading: str, content: str) -> Path:
        """Append to the day's note, fsynced; ``UnsafePath`` if it is a link or linked file."""
        append_bytes_at(
            self.root,
            (MEMORY_DIR, f"{day.isoformat()}.md"),
            f"\n## {heading}\n\n{content.strip()}\n".encode(),
            header=f"# Memory: {day.isoformat()}\n".encode(),
        )
        return self.note_path(day)

    def recent_notes(self, today: date) -> str:
        """Yesterday's and today's notes, oldest first: what the agent reads on waking."""
        parts = []
        for day in (today - timedelta(days=1), today):
            name = f"{day.isoformat()}.md"
            try:
                note = read_bytes_at(self.root, (MEMORY_DIR, name), limit=MAX_NOTE_BYTES)
            except UnsafePath as exc:
                parts.append(f"(the note {MEMORY_DIR}/{name} was not read: {exc})")
                continue
            if note is not None:
                parts.append(note[:MAX_NOTE_BYTES].decode("utf-8", errors="replace").strip())
        return "\n\n".join(parts)

    # -- saved state --------------------------------------------------------------------

    def old_state(self) -> dict[str, Any] | None:
        """The state an older runner saved here (``None``: none, or not the runtime's file)."""
        path = self.root / STATE_FILE
        try:
            data = read_bytes_at(self.root, STATE_FILE.parts, limit=MAX_STATE_BYTES)
        except UnsafePath:
            return None  # not the runtime's file (a link planted there): start afresh
        if data is None:
            return None
        try:
            loaded = orjson.loads(data)
        except orjson.JSONDecodeError:
            # A torn write cannot happen (it was replaced atomically); a hand-edited file can.
            path.rename(path.with_suffix(".corrupt"))
            return None
        return loaded if isinstance(loaded, dict) else None

    def forget_old_state(self) -> None:
        """Remove what :meth:`old_state` read, once the runner keeps it: never read twice."""
        with contextlib.suppress(UnsafePath):  # a folder planted there: not ours to remove
            remove_at(self.root, STATE_FILE.parts)
