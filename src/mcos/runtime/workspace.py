"""An agent's workspace: its identity file, its daily memory notes, its files and its saved state.

Layout, under ``<workspaces>/<agent>/``::

    SOUL.md                 who the agent is; written once from its role, then the operator's
    memory/YYYY-MM-DD.md    the daily notes: the memory flush writes here before a compaction
    .mcos/state.json        where the runtime was (conversations, parked approvals), for restarts
    ...                     whatever the agent writes with its tools

Every path a tool names is resolved inside the workspace; ``..`` and symlinks out are refused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

from mcos.fleet.schema import Agent, Fleet

SOUL_FILE = "SOUL.md"
MEMORY_DIR = "memory"
STATE_FILE = Path(".mcos") / "state.json"

ROLE_DUTIES: dict[str, str] = {
    "orchestrator": "You read the fleet's heartbeats, route work to the agent whose role fits, "
    "issue directives, and confirm or dismiss escalations you are asked to confirm.",
    "communications": "You triage the inboxes, draft replies, and send email only when the "
    "message is ready; other agents draft and you send.",
    "legal": "You draft and review contracts and protocols and flag legal risk early.",
    "finance": "You analyse the numbers, explain variances, and never move money yourself.",
    "engineering": "You keep services running, fix what breaks, and say what you changed.",
    "security": "You watch for threats and confirm or dismiss P2 incidents raised by others; "
    "a false alarm costs the fleet as much as a missed one.",
}

GENERIC_DUTY = "You do the work your role describes and report progress on your tasks."


def soul_text(fleet: Fleet, agent: Agent) -> str:
    """The identity file written for a new agent; the operator may edit it freely afterwards."""
    duty = ROLE_DUTIES.get(agent.role, GENERIC_DUTY)
    title = f", {agent.title}" if agent.title else ""
    capabilities = ", ".join(agent.capabilities) or "none"
    supervisor = "the operator (a person)" if agent.supervisor == "operator" else agent.supervisor
    return (
        f"# {agent.label}\n\n"
        f"You are {agent.label}{title}, the {agent.role} agent of {fleet.fleet.name}.\n\n"
        f"{duty}\n\n"
        "## Ground rules\n\n"
        f"- Your capabilities are: {capabilities}. Ask for nothing else; a refusal is final "
        "until an operator restores a capability.\n"
        f"- Your supervisor is {supervisor}. Escalate to them when you are stuck.\n"
        "- Before your context is compacted you will be asked to write what matters to your "
        "daily memory note. Write decisions, commitments and open threads, not chatter.\n"
        "- Raise an incident only for what you have evidence of; say what the evidence is.\n"
    )


@dataclass
class Workspace:
    root: Path

    @classmethod
    def open(cls, base: Path, fleet: Fleet, agent: Agent) -> Workspace:
        """The agent's workspace, created with its identity file on first use."""
        root = (base / agent.name).resolve()
        (root / MEMORY_DIR).mkdir(parents=True, exist_ok=True)
        (root / STATE_FILE).parent.mkdir(parents=True, exist_ok=True)
        soul = root / SOUL_FILE
        if not soul.exists():
            soul.write_text(soul_text(fleet, agent))
        return cls(root)

    def soul(self) -> str:
        return (self.root / SOUL_FILE).read_text()

    def resolve(self, relative: str) -> Path:
        """``relative`` inside the workspace, or ``ValueError`` saying why not."""
        if not relative or "\x00" in relative:
            raise ValueError("give a path relative to your workspace, such as 'notes/today.md'")
        candidate = (self.root / relative).resolve()
        if candidate != self.root and self.root not in candidate.parents:
            raise ValueError(f"{relative!r} is outside your workspace; use a relative path")
        if candidate.is_relative_to(self.root / ".mcos"):
            raise ValueError(f"{relative!r} is the runtime's own state; it is not yours to touch")
        return candidate

    # -- memory notes -------------------------------------------------------------------

    def note_path(self, day: date) -> Path:
        return self.root / MEMORY_DIR / f"{day.isoformat()}.md"

    def append_note(self, day: date, heading: str, content: str) -> Path:
        path = self.note_path(day)
        with path.open("a", encoding="utf-8") as note:
            if path.stat().st_size == 0:
                note.write(f"# Memory: {day.isoformat()}\n")
            note.write(f"\n## {heading}\n\n{content.strip()}\n")
            note.flush()
            os.fsync(note.fileno())
        return path

    def recent_notes(self, today: date) -> str:
        """Yesterday's and today's notes, oldest first: what the agent reads on waking."""
        parts = []
        for day in (today - timedelta(days=1), today):
            path = self.note_path(day)
            if path.exists():
                parts.append(path.read_text(encoding="utf-8").strip())
        return "\n\n".join(parts)

    # -- saved state --------------------------------------------------------------------

    def load_state(self) -> dict[str, Any]:
        path = self.root / STATE_FILE
        if not path.exists():
            return {}
        try:
            loaded = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError:
            # A torn write cannot happen (see save_state); a hand-edited file can.
            path.rename(path.with_suffix(".corrupt"))
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def save_state(self, state: dict[str, Any]) -> None:
        """Write atomically: a crash leaves the old state or the new, never half of one.

        Not fsynced: this survives the runner being killed, which is what it is for; after a
        power loss the agent may redo its last step.
        """
        path = self.root / STATE_FILE
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(orjson.dumps(state))
        temporary.replace(path)
