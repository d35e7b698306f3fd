"""Role templates: the ``SOUL.md`` an agent starts with, per role, and where a fleet overrides it.

The templates ship in ``mcos/fleet/souls/ROLE.md``, one per seed role (the role names of the
shipped fleet template). ``mcos init`` copies them to the fleet folder's ``souls/`` so that the
operator can edit them. For an agent's first ``SOUL.md`` the first that exists wins:

1. ``FLEET/souls/AGENT.md`` (one agent's own copy),
2. ``FLEET/souls/ROLE.md`` (the fleet's edited role template),
3. the packaged template of the role (or of the role it is an alias of),
4. nothing: the workspace writes its generic text.

Placeholders (``{{name}}``) are filled from the fleet file; one not in :data:`PLACEHOLDERS` is left
as written, so a hand-edited file never stops an agent from starting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from mcos.fleet.schema import OPERATOR, Agent, Fleet

SOULS_DIR = "souls"
"""The folder beside ``fleet.toml`` holding the fleet's role templates and per-agent copies."""

SEED_ROLES = (
    "orchestrator",
    "communications",
    "legal",
    "finance",
    "infrastructure",
    "operations",
    "engineering",
    "research",
    "security",
    "revenue",
)
"""The roles a template ships for: the seed's, as the fleet template names them."""

ROLE_ALIASES = {
    "product-engineering": "engineering",
    "intelligence": "research",
}
"""Other names for a seed role (the seed's "Product Engineer", "Intelligence & Research")."""

PLACEHOLDERS = (
    "name",
    "agent",
    "title",
    "role",
    "company",
    "supervisor",
    "machine",
    "capabilities",
    "channels",
)
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_FILE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}\.md$")
MAX_TEMPLATE_BYTES = 200_000


@dataclass(frozen=True)
class SoulTemplate:
    text: str
    source: str
    """Where it came from: a path in the fleet folder, or ``packaged:ROLE``."""


def _packaged() -> Traversable:
    return resources.files("mcos.fleet").joinpath(SOULS_DIR)


def packaged_templates() -> dict[str, str]:
    """The shipped role templates, by role."""
    return {
        entry.name.removesuffix(".md"): entry.read_text(encoding="utf-8")
        for entry in _packaged().iterdir()
        if _FILE_NAME.match(entry.name)
    }


def packaged_template(role: str) -> str | None:
    """The shipped template of ``role`` (or of the seed role it is an alias of)."""
    role = ROLE_ALIASES.get(role, role)
    if role not in SEED_ROLES:
        return None
    return _packaged().joinpath(f"{role}.md").read_text(encoding="utf-8")


def _read_template(path: Path) -> str | None:
    """The text of a file of the fleet folder, or ``None`` if there is none."""
    if not path.is_file():
        return None
    data = path.read_bytes()[:MAX_TEMPLATE_BYTES]
    return data.decode("utf-8", errors="replace")


def find_template(agent: Agent, souls: Path | None) -> SoulTemplate | None:
    """The template ``agent``'s first ``SOUL.md`` is made from, by the precedence above."""
    if souls is not None:
        for stem in (agent.name, agent.role):
            path = souls / f"{stem}.md"
            text = _read_template(path)
            if text is not None:
                return SoulTemplate(text, str(path))
    text = packaged_template(agent.role)
    return None if text is None else SoulTemplate(text, f"packaged:{agent.role}")


def facts(fleet: Fleet, agent: Agent) -> dict[str, str]:
    """What the placeholders stand for, for ``agent``."""
    machine = fleet.machine(agent.machine)
    where = agent.machine
    if machine is not None and machine.description:
        where = f"{agent.machine} ({machine.description})"
    supervisor = "the operator (a person)" if agent.supervisor == OPERATOR else agent.supervisor
    if agent.supervisor != OPERATOR:
        boss = fleet.agent(agent.supervisor)
        if boss is not None and boss.display_name:
            supervisor = f"{boss.display_name} (`{boss.name}`)"
    return {
        "name": agent.label,
        "agent": agent.name,
        "title": agent.title or agent.role,
        "role": agent.role,
        "company": fleet.fleet.name,
        "supervisor": supervisor,
        "machine": where,
        "capabilities": ", ".join(agent.capabilities) or "none",
        "channels": ", ".join(agent.channels) or "none",
    }


def render(text: str, values: dict[str, str]) -> str:
    """``text`` with each known placeholder filled; an unknown one is left as written."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def write_fleet_templates(folder: Path) -> list[Path]:
    """Copy the shipped templates and their README to ``folder/souls/`` for ``mcos init``; a
    file already there is kept (it is the operator's). The paths written."""
    target = folder / SOULS_DIR
    target.mkdir(parents=True, exist_ok=True)
    files = {f"{role}.md": text for role, text in packaged_templates().items()}
    files["README.md"] = _packaged().joinpath("README.md").read_text(encoding="utf-8")
    written = []
    for name, text in sorted(files.items()):
        path = target / name
        if path.exists() or path.is_symlink():
            continue
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
