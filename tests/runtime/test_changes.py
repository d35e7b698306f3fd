"""git_commit and deploy through the real toolbox, sandbox and control plane: a change that needs
approval waits with nothing done, is carried out exactly as approved, and a change that grew in
the meantime is not carried out at all."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from mcos.client.outbox import Outbox
from mcos.fleet.loader import load_fleet
from mcos.runtime.client import AgentLink, ControlPlane, deliver
from mcos.runtime.commands import AgentCommands
from mcos.runtime.providers.base import ToolCall
from mcos.runtime.toolbox import Toolbox
from mcos.runtime.workspace import Workspace
from tests.fixtures.server import Server, running_server


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def elon(tmp_path: Path) -> Iterator[Server]:
    """Elon must ask a person before every commit and every deploy; staging is his target."""
    with running_server(tmp_path, f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}") as srv:
        staging = tmp_path / "staging"
        staging.mkdir()
        fleet_file = srv.fleet_dir / "fleet.toml"
        text = fleet_file.read_text()
        at = text.index("[agents.budget]", text.index('name = "elon"'))
        asks = '[agents.guard]\nask_first = ["git.commit", "deploy.run"]\n'
        text = text[:at] + asks + text[at:]
        text += f'\n[[deploy_targets]]\nname = "site"\nmachine = "velo"\npath = "{staging}"\n'
        fleet_file.write_text(text)
        srv.stop()
        srv.start()
        yield srv


@asynccontextmanager
async def toolbox(srv: Server) -> AsyncIterator[Toolbox]:
    fleet = load_fleet(srv.fleet_dir)
    agent = fleet.agent("elon")
    assert agent is not None
    control = ControlPlane(srv.url)
    outbox = Outbox(srv.fleet_dir / "outbox.db", lambda r: deliver(control, {}, r))
    link = AgentLink("elon", srv.agent_token("elon"), control, outbox)
    workspace = Workspace.open(srv.fleet_dir / "workspaces", fleet, agent)
    commands = AgentCommands(fleet, agent, workspace.root, link, srv.fleet_dir / "egress")
    try:
        yield Toolbox(agent, workspace, link, fleet=fleet, commands=commands)
    finally:
        await commands.close()
        outbox.close()
        await control.aclose()


def _approve(srv: Server, approval_id: int) -> None:
    srv.mcos("approvals", "approve", str(approval_id))


def test_a_commit_that_needs_approval_waits_then_commits_exactly_what_was_approved(
    elon: Server,
) -> None:
    repo = elon.fleet_dir / "workspaces" / "elon" / "ops"
    repo.mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / "a.conf").write_text("a\n")
    (repo / "b.conf").write_text("b\n")
    call = ToolCall("c1", "git_commit", json.dumps({"repository": "ops", "message": "tune"}))

    async def scenario() -> tuple[str, str, str]:
        async with toolbox(elon) as tools:
            parked = await tools.run(call, None)
            assert parked.parked is not None, parked.turn.text
            assert _git(repo, "status", "--porcelain") == "?? a.conf\n?? b.conf\n"
            _approve(elon, parked.parked["approval_id"])
            done = await tools.resume(parked.parked)
            assert done is not None
            # Again, but the change grows after the ask: the approval does not cover it.
            (repo / "c.conf").write_text("c\n")
            (repo / "d.conf").write_text("d\n")
            again = await tools.run(call, None)
            assert again.parked is not None
            (repo / "e.conf").write_text("e\n")
            _approve(elon, again.parked["approval_id"])
            grown = await tools.resume(again.parked)
            assert grown is not None
            return parked.turn.text, done[0].text, grown[0].text

    waited, committed, grown = asyncio.run(scenario())
    assert "needs approval" in waited and "Nothing was done yet" in waited
    assert "committed 2 files as" in committed
    assert "no longer the one approved (3 files now)" in grown
    assert _git(repo, "log", "--format=%s %an") == "tune Elon\n"
    assert _git(repo, "diff", "--cached", "--name-only") == "", "nothing left staged"


def test_a_deploy_that_needs_approval_copies_only_once_approved(elon: Server) -> None:
    build = elon.fleet_dir / "workspaces" / "elon" / "build"
    build.mkdir(parents=True)
    (build / "index.html").write_text("<h1>v2</h1>\n")
    staging = elon.fleet_dir.parent / "staging"
    (staging / "old.html").write_text("old\n")
    call = ToolCall(
        "d1", "deploy", json.dumps({"target": "site", "source": "build", "delete": True})
    )

    async def scenario() -> tuple[str, str]:
        async with toolbox(elon) as tools:
            parked = await tools.run(call, None)
            assert parked.parked is not None, parked.turn.text
            assert sorted(p.name for p in staging.iterdir()) == ["old.html"], "nothing yet"
            assert parked.parked["action"]["files_touched"] == 2
            _approve(elon, parked.parked["approval_id"])
            done = await tools.resume(parked.parked)
            assert done is not None
            return parked.turn.text, done[0].text

    waited, deployed = asyncio.run(scenario())
    assert "needs approval" in waited
    assert "deployed build to site: copied 1, deleted 1" in deployed
    assert sorted(p.name for p in staging.iterdir()) == ["index.html"]
