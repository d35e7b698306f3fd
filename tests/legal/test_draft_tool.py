"""Apex's draft_document through a real runner and the wire-level fake model: v1 to review,
the operator's comment sends it back, v2 follows."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mcos.fleet.loader import load_fleet
from mcos.runtime.legal_tools import LEGAL_TOOLS
from mcos.runtime.providers.simulated import Rule, Script, Step
from mcos.runtime.tools import offered_tools
from mcos.testing.fake_providers import FakeProviderServer
from tests.fixtures.runtime import fake_keys, make_runner, running, task_status
from tests.fixtures.server import Server, init_here, mcos_env
from tests.legal.conftest import write_registry

PARTIES = {"client": "velocity-fibre", "contractor": "mokoena-splicing"}
FIELDS: dict[str, Any] = {
    "effective_date": "2026-03-01",
    "services": ["Splice and test fibre in Irene"],
    "monthly_fee": 75000,
}
NAME = "independent-contractor-agreement-velocity-fibre-mokoena-splicing.docx"


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[Server]:
    env = mcos_env(tmp_path) | {"MCOS_DATABASE_URL": f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}"}
    fleet_dir = tmp_path / "fleet"
    init_here(fleet_dir, env)
    write_registry(fleet_dir)
    server = Server(fleet_dir, env["MCOS_DATABASE_URL"], env)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake(srv: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as server:
        fake_keys(monkeypatch, load_fleet(srv.fleet_dir), server.url)
        yield server


def test_the_legal_tools_are_offered_only_with_legal_draft(srv: Server) -> None:
    fleet = load_fleet(srv.fleet_dir)
    names = {t.name for t in LEGAL_TOOLS}
    for agent in fleet.agents:
        offered = {t.name for t in offered_tools(agent)}
        assert (names <= offered) == ("legal.draft" in agent.capabilities), agent.name
    apex = fleet.agent("apex")
    assert apex is not None and "legal.draft" in apex.capabilities


def test_apex_drafts_the_operator_sends_it_back_and_apex_attaches_v2(
    srv: Server, fake: FakeProviderServer
) -> None:
    with srv.client() as operator:
        task_id = operator.post(
            "/api/v1/tasks",
            json={"title": "Contractor agreement with Mokoena", "kind": "legal-document",
                  "assignee": "apex"},
        ).json()["id"]  # fmt: skip
    wrong = FIELDS | {"place_of_work": "Mokoena Splicing CC (2009/045678/07)"}
    fake.set_script(
        Script(
            [
                Rule(
                    key="key-apex",
                    contains=f"Task #{task_id}: Contractor agreement with Mokoena",
                    times=3,
                    steps=(
                        # A wrong number first: the model reads the refusal and corrects it.
                        Step.call("draft_document", {"template": "independent-contractor-agreement",
                                                     "parties": PARTIES, "fields": wrong}),
                        Step.call("draft_document", {"template": "independent-contractor-agreement",
                                                     "parties": PARTIES, "fields": FIELDS}),
                        Step.reply("Drafted the contractor agreement (v1) for review."),
                    ),
                ),
                Rule(
                    key="key-apex",
                    contains="Make the fee R80 000",
                    steps=(
                        Step.call("draft_document", {
                            "template": "independent-contractor-agreement", "parties": PARTIES,
                            "fields": FIELDS | {"monthly_fee": 80000},
                            "note": "Fee raised to R80 000."}),
                        Step.reply("Raised the fee; v2 is attached."),
                    ),
                ),
            ]
        )
    )  # fmt: skip

    async def versions(api: httpx.AsyncClient) -> list[int]:
        listed = (await api.get(f"/api/v1/tasks/{task_id}/artifacts")).json()["artifacts"]
        found = []
        for item in listed:
            found += [v["version"] for v in item.get("versions", [item]) if v["name"] == NAME]
        return sorted(found)

    async def scenario() -> None:
        runner = make_runner(srv, ["apex"])
        async with running(runner, url=srv.url, token=srv.operator_token) as agents:

            async def first_in_review(api: httpx.AsyncClient) -> bool:
                return await task_status(api, task_id) == "review" and await versions(api) == [1]

            await agents.until(first_in_review)
            api = agents.api
            said = await api.post(
                f"/api/v1/tasks/{task_id}/comments", json={"body": "Make the fee R80 000."}
            )
            assert said.status_code == 201
            back = await api.post(f"/api/v1/tasks/{task_id}/move", json={"status": "in_progress"})
            assert back.status_code == 200, back.text

            async def second_in_review(api: httpx.AsyncClient) -> bool:
                return await task_status(api, task_id) == "review" and await versions(api) == [
                    1,
                    2,
                ]

            await agents.until(second_in_review)

    asyncio.run(scenario())
    apex_calls = [r for r in fake.requests if r.key == "key-apex"]
    assert all("draft_document" in r.tools for r in apex_calls)
    results = "\n".join(t for r in apex_calls for t in r.tool_results)
    assert (
        "registration number 2009/045678/07 is given for Mokoena Splicing CC, but the "
        "registry's is 2009/045678/23" in results
    )
    assert f"attached {NAME} version 1 to task #{task_id}" in results
    assert f"attached {NAME} version 2 to task #{task_id}" in results
    with srv.client() as operator:
        task = operator.get(f"/api/v1/tasks/{task_id}").json()
        refused = operator.get("/api/v1/events", params={"types": "legal.draft_refused"}).json()
    assert task["status"] == "review"
    moves = [(e["data"]["from"], e["data"]["to"]) for e in task["history"]
             if e["type"] == "task.moved"]  # fmt: skip
    assert moves == [
        ("assigned", "in_progress"),
        ("in_progress", "review"),
        ("review", "in_progress"),
        ("in_progress", "review"),
    ]
    assert [e["actor"] for e in refused["events"]] == ["agent:apex"]
    # Nothing was set aside: finishing did not try to move the card to review twice.
    with srv.client() as operator:
        apex = operator.get("/api/v1/agents/apex").json()
    assert apex["set_aside_reports"] == 0, apex["last_set_aside"]
