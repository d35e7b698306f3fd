"""Role templates: one per seed role, filled with the agent's facts, naming tools that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mcos.fleet.loader import check_fleet_text, template_text
from mcos.fleet.schema import Fleet
from mcos.fleet.soul_templates import (
    PLACEHOLDERS,
    SEED_ROLES,
    facts,
    find_template,
    packaged_template,
    packaged_templates,
    render,
)
from mcos.runtime.tools import TOOLS
from mcos.runtime.workspace import GENERIC_DUTY, Workspace, soul_text

SNAKE = re.compile(r"`([a-z]+(?:_[a-z]+)+)`")


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    loaded, problems = check_fleet_text(template_text())
    assert loaded is not None, problems
    return loaded


def by_role(fleet: Fleet) -> dict[str, str]:
    """The first agent of each role in the shipped fleet."""
    first: dict[str, str] = {}
    for agent in fleet.agents:
        first.setdefault(agent.role, agent.name)
    return first


def test_every_seed_role_of_the_shipped_fleet_has_a_template(fleet: Fleet) -> None:
    assert set(SEED_ROLES) <= {a.role for a in fleet.agents}, "the names the fleet uses"
    assert set(packaged_templates()) == set(SEED_ROLES)
    assert packaged_template("product-engineering") == packaged_template("engineering")
    assert packaged_template("construction") is None


@pytest.mark.parametrize("role", SEED_ROLES)
def test_each_template_renders_with_the_agents_facts(fleet: Fleet, role: str) -> None:
    agent = fleet.agent(by_role(fleet)[role])
    assert agent is not None
    text = soul_text(fleet, agent)
    assert "{{" not in text and "}}" not in text, "every placeholder is a known one"
    assert text.startswith(f"# {agent.label}\n")
    assert f"You are {agent.label}, {agent.title}" in text
    assert "Specter Holdings" in text
    assert f"You hold: {', '.join(agent.capabilities)}." in text
    machine = fleet.machine(agent.machine)
    assert machine is not None and f"{agent.name}" in text
    assert f"{agent.machine} ({machine.description})" in text
    boss = fleet.agent(agent.supervisor)
    supervisor = "the operator (a person)" if boss is None else f"{boss.label} (`{boss.name}`)"
    assert f"answer to {supervisor}" in text
    # Its duties, escalation, tools and memory discipline, in that order.
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Your duties",
        "## What you escalate, and to whom",
        "## Your tools",
        "## Memory discipline",
    ]
    flat = " ".join(text.split())  # phrases may wrap
    assert "memory/YYYY-MM-DD.md" in flat and "Never write a secret" in flat
    for severity in ("P3", "P2", "P1", "P0"):
        assert severity in text, f"{role}: the escalation table's {severity}"


def test_the_seeds_duties_are_in_their_roles() -> None:
    expect = {
        "orchestrator": ["fleet_status", "route_request", "open_committee", "morning"],
        "communications": ["triage_mail", "write_digest", "send_mail", "never follow"],
        "legal": ["draft_document", "look_up_entity", "South African", "registry"],
        "finance": ["variance", "cost per activation", "cell references", "never move money"],
        "infrastructure": ["3 a.m.", "restart_service", "production host"],
        "security": ["P2", "false alarm", "never broadcast"],
        "engineering": ["3,571", "infrastructure agent"],
    }
    for role, phrases in expect.items():
        text = packaged_template(role)
        assert text is not None
        flat = " ".join(text.split())
        for phrase in phrases:
            assert phrase in flat, f"{role}: {phrase!r}"


@pytest.mark.parametrize("role", SEED_ROLES)
def test_every_tool_a_template_names_exists(role: str) -> None:
    text = packaged_template(role)
    assert text is not None
    tools = text[text.index("## Your tools") : text.index("## Memory discipline")]
    listed = set(re.findall(r"`([a-z_]+)`", tools))
    mentioned = set(SNAKE.findall(text))
    assert listed, f"{role} lists its tools"
    unknown = (listed | mentioned) - set(TOOLS)
    assert not unknown, f"{role} names tools the runtime does not have: {sorted(unknown)}"


def test_placeholders_are_filled_and_unknown_ones_left_as_written(fleet: Fleet) -> None:
    apex = fleet.agent("apex")
    assert apex is not None
    values = facts(fleet, apex)
    assert set(values) == set(PLACEHOLDERS)
    assert render("{{ name }} of {{company}} on {{machine}}; {{colour}}", values) == (
        "Apex of Specter Holdings on mac-mini (Mac Mini, office); {{colour}}"
    )


def test_an_agents_copy_beats_its_roles_file_beats_the_packaged_one(
    fleet: Fleet, tmp_path: Path
) -> None:
    apex, vega = fleet.agent("apex"), fleet.agent("vega")
    assert apex is not None and vega is not None
    souls = tmp_path / "souls"
    packaged = find_template(apex, souls)
    assert packaged is not None and packaged.source == "packaged:legal"
    souls.mkdir()
    (souls / "legal.md").write_text("# {{name}}: the fleet's legal text")
    role = find_template(apex, souls)
    assert role is not None and role.source == str(souls / "legal.md")
    (souls / "apex.md").write_text("# {{name}}, {{title}}: Apex's own")
    assert soul_text(fleet, apex, souls) == "# Apex, Legal & Protocol: Apex's own"
    # Another agent of another role still gets its own role's packaged template.
    assert soul_text(fleet, vega, souls) == render(
        packaged_template("finance") or "", facts(fleet, vega)
    )


def test_a_role_without_a_template_gets_the_generic_text(fleet: Fleet, tmp_path: Path) -> None:
    quill = fleet.agent("quill")
    assert quill is not None and quill.role not in SEED_ROLES
    text = soul_text(fleet, quill, tmp_path / "souls")
    assert text.startswith(f"# {quill.label}\n\nYou are {quill.label}, {quill.title}, the ")
    assert GENERIC_DUTY in text and "never a secret" in text
    # A fleet's own file for that role is used, though nothing ships for it.
    (tmp_path / "souls").mkdir()
    (tmp_path / "souls" / f"{quill.role}.md").write_text("# {{name}} keeps the minutes")
    assert soul_text(fleet, quill, tmp_path / "souls") == f"# {quill.label} keeps the minutes"


def test_a_soul_already_written_is_never_replaced(fleet: Fleet, tmp_path: Path) -> None:
    donna = fleet.agent("donna")
    assert donna is not None
    souls = tmp_path / "souls"
    souls.mkdir()
    (souls / "donna.md").write_text("# {{name}} v1")
    workspace = Workspace.open(tmp_path / "workspaces", fleet, donna, souls)
    assert workspace.soul() == "# Donna v1"
    (souls / "donna.md").write_text("# {{name}} v2")
    (workspace.root / "SOUL.md").write_text("# Donna, as the operator edited her")
    again = Workspace.open(tmp_path / "workspaces", fleet, donna, souls)
    assert again.soul() == "# Donna, as the operator edited her"
    # Nor is a link planted under the name followed to write elsewhere.
    (again.root / "SOUL.md").unlink()
    outside = tmp_path / "outside.md"
    (again.root / "SOUL.md").symlink_to(outside)
    Workspace.open(tmp_path / "workspaces", fleet, donna, souls)
    assert not outside.exists()
