"""Where an agent's commands run: its sandbox, or on a machine opted out, unconfined — but only
for the agents the fleet file itself gives exec, never for an exec restored by an approval."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mcos.client.outbox import DeliveryResult, Outbox, Report
from mcos.fleet.loader import check_fleet_text, template_text
from mcos.fleet.schema import Fleet
from mcos.runtime.client import AgentLink, ControlPlane
from mcos.runtime.commands import AgentCommands, repositories
from mcos.runtime.permission import ToolError


def _fleet(velo: str) -> Fleet:
    text = template_text()
    at = text.index('name = "velo"')
    fleet, problems = check_fleet_text(text[:at] + text[at:].replace("bubblewrap", velo, 1))
    assert fleet is not None, problems
    return fleet


async def _never(report: Report) -> DeliveryResult:
    return DeliveryResult.retry()  # nothing is reported here


async def _run(fleet: Fleet, name: str, workspace: Path, command: str) -> str:
    agent = fleet.agent(name)
    assert agent is not None
    outbox = Outbox(workspace.parent / f"{name}-outbox.db", _never)
    link = AgentLink(name, "unused", ControlPlane("http://127.0.0.1:9"), outbox)
    commands = AgentCommands(fleet, agent, workspace, link, workspace.parent / "egress")
    try:
        return (await commands.run(command)).report()
    finally:
        await commands.close()
        outbox.close()
        await link.control_plane.aclose()


def test_on_an_opted_out_machine_only_the_fleet_files_exec_runs_unconfined(
    tmp_path: Path,
) -> None:
    fleet = _fleet("none")
    for name in ("elon", "flow"):
        (tmp_path / name).mkdir()
    ran = asyncio.run(_run(fleet, "elon", tmp_path / "elon", "echo $HOME; pwd"))
    assert ran == f"exit status 0\n{tmp_path / 'elon'}\n{tmp_path / 'elon'}\n"
    with pytest.raises(ToolError, match="exec is a restoration, not the fleet file's"):
        asyncio.run(_run(fleet, "flow", tmp_path / "flow", "echo hi"))


def test_a_sandboxed_command_finds_every_repository_read_only(tmp_path: Path) -> None:
    fleet = _fleet("bubblewrap")
    workspace = tmp_path / "elon"
    for repo in ("site", "tools/deploy", "a/b/c/d/e"):
        (workspace / repo / ".git").mkdir(parents=True)
    (workspace / "node_modules" / "x" / ".git").mkdir(parents=True)
    found = sorted(str(p.relative_to(workspace)) for p in repositories([workspace]))
    assert found == ["site/.git", "tools/deploy/.git"], "bounded depth, skipped folders"
    said = asyncio.run(
        _run(fleet, "elon", workspace, "touch site/.git/x 2>&1; touch site/y && echo wrote")
    )
    assert "Read-only file system" in said and "wrote" in said
