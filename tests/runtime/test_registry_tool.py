"""``look_up_entity``: offered to every agent with ``read``; run through the toolbox against a
real control plane, it answers with the entity's facts and signatories, ID numbers masked
unless the agent has ``personal_data``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any, cast

import pytest

from mcos.fleet.loader import load_fleet
from mcos.runtime.client import AgentLink, ControlPlane
from mcos.runtime.providers.base import ToolCall
from mcos.runtime.toolbox import Toolbox, ToolResult
from mcos.runtime.tools import offered_tools
from tests.fixtures.server import Server, running_server


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One control plane for the module: the tool only reads."""
    folder = tmp_path_factory.mktemp("registry-tool")
    with running_server(folder, f"sqlite+pysqlite:///{folder / 'mcos.db'}") as server:
        yield server


def look_up(srv: Server, agent_name: str, *queries: Any) -> list[ToolResult]:
    fleet = load_fleet(srv.fleet_dir)
    agent = fleet.agent(agent_name)
    assert agent is not None
    token = srv.agent_token(agent_name)

    async def run() -> list[ToolResult]:
        control = ControlPlane(srv.url)
        # Only questions are asked (no reports), so no outbox is needed.
        link = AgentLink(agent_name, token, control, cast(Any, None))
        toolbox = Toolbox(agent, cast(Any, None), link, fleet=fleet)
        try:
            return [
                await toolbox.run(ToolCall("c", "look_up_entity", json.dumps(q)), None)
                for q in queries
            ]
        finally:
            await control.aclose()

    return asyncio.run(run())


def test_look_up_entity_is_offered_to_every_agent_that_reads(srv: Server) -> None:
    fleet = load_fleet(srv.fleet_dir)
    for agent in fleet.agents:
        offered = {t.name for t in offered_tools(agent)}
        assert ("look_up_entity" in offered) == ("read" in agent.capabilities), agent.name
    quill = fleet.agent("quill")
    assert quill is not None
    blind = quill.model_copy(update={"capabilities": ("write",)})
    assert "look_up_entity" not in {t.name for t in offered_tools(blind)}


def test_a_company_by_name_with_its_facts_and_signatories(srv: Server) -> None:
    [result] = look_up(srv, "donna", {"query": "Velocity Fibre (Pty) Ltd"})
    assert not result.failed, result.turn.text
    text = result.turn.text
    assert text.startswith(
        "Company velocity-fibre: Velocity Fibre (Pty) Ltd (trading as Velocity Fibre)\n"
    )
    assert "  registration number: 2019/407215/07\n" in text
    assert "  VAT number: 4620197384\n" in text
    assert "  domicilium citandi et executandi: 2 Fibre Park, Lynnwood Road, Pretoria, 0081\n" in (
        text
    )
    assert (
        "  signs for it: Alexander James Specter (alex-specter) as Director; "
        "Lindiwe Precious Dlamini (lindiwe-dlamini) as Director, duly authorised\n"
    ) in text
    as_json = json.loads(text.split("As JSON: ", 1)[1])
    assert [c["key"] for c in as_json["companies"]] == ["velocity-fibre"]


def test_a_person_is_masked_for_donna_and_in_full_for_apex(srv: Server) -> None:
    [masked] = look_up(srv, "donna", {"query": "alex-specter"})
    assert "  ID number: *********3086\n" in masked.turn.text
    assert "8504125123086" not in masked.turn.text
    assert "personal_data capability" in masked.turn.text
    assert (
        "  Velocity Fibre (Pty) Ltd (velocity-fibre): director, signs as Director"
        in masked.turn.text
    )
    [full] = look_up(srv, "apex", {"query": "alex-specter"})
    assert "  ID number: 8504125123086\n" in full.turn.text


def test_no_match_lists_the_known_keys_and_bad_arguments_are_a_tool_error(srv: Server) -> None:
    none, bad = look_up(srv, "donna", {"query": "Acme Holdings"}, {"query": ""})
    assert not none.failed
    assert none.turn.text.startswith(
        "No company or person in the entity registry matches 'Acme Holdings'. Known keys: "
        "specter-holdings, velocity-fibre, mokoena-splicing, alex-specter, lindiwe-dlamini, "
        "pieter-mokoena."
    )
    assert bad.failed and "bad arguments for look_up_entity: query" in bad.turn.text
