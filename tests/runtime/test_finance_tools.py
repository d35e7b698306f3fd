"""Vega's finance tools through the real toolbox against a real control plane: a workbook
described, two sources reconciled, an analysis workbook written into her workspace (asked as
``file.write`` with its absolute path first), and nothing read or written outside it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from mcos.client.outbox import Outbox
from mcos.finance.sample import generate, sample_spec
from mcos.fleet.loader import load_fleet
from mcos.runtime.client import AgentLink, ControlPlane, deliver
from mcos.runtime.providers.base import ToolCall
from mcos.runtime.toolbox import Toolbox, ToolResult
from mcos.runtime.workspace import Workspace
from tests.fixtures.server import Server


def run_calls(
    srv: Server,
    tmp_path: Path,
    calls: list[tuple[str, dict[str, Any]]],
    task_id: int | None = None,
) -> tuple[Workspace, list[ToolResult]]:
    fleet = load_fleet(srv.fleet_dir)
    vega = fleet.agent("vega")
    assert vega is not None
    workspace = Workspace.open(tmp_path / "workspaces", fleet, vega)
    generate(workspace.root / "data", transactions=300)

    async def run() -> list[ToolResult]:
        control = ControlPlane(srv.url)
        outbox = Outbox(tmp_path / "outbox.db", lambda r: deliver(control, {}, r))
        toolbox = Toolbox(
            vega, workspace, AgentLink("vega", srv.agent_token("vega"), control, outbox)
        )
        try:
            return [
                await toolbox.run(ToolCall(f"c{n}", name, json.dumps(args)), task_id)
                for n, (name, args) in enumerate(calls)
            ]
        finally:
            outbox.close()
            await control.aclose()

    return workspace, asyncio.run(run())


def test_vega_reads_reconciles_and_writes_the_analysis(srv: Server, tmp_path: Path) -> None:
    spec = sample_spec("data").model_dump(mode="json")
    with srv.client() as operator:
        created = operator.post(
            "/api/v1/tasks", json={"title": "Velocity Fibre workbook", "assignee": "vega"}
        )
        assert created.status_code == 201, created.text
        task_id = created.json()["id"]
    workspace, (read, matched, written) = run_calls(
        srv,
        tmp_path,
        [
            ("read_workbook", {"path": "data/actuals.xlsx", "rows": 2}),
            ("reconcile_workbooks", {"match": spec["checks"][0]}),
            ("write_analysis", {"spec": spec, "output": "reports/velocity.xlsx", "note": "H1"}),
        ],
        task_id,
    )
    assert not read.failed, read.turn.text
    assert "sheet 'Transactions': 300 rows; columns: Date | Reference | Supplier" in read.turn.text
    assert "TX-000001" in read.turn.text and "TX-000003" not in read.turn.text
    assert not matched.failed, matched.turn.text
    assert "Invoices vs bank: invoices 120 rows / bank 121 rows" in matched.turn.text
    assert "[high] duplicate INV-1042" in matched.turn.text
    assert "data/bank.csv!row 43 col amount" in matched.turn.text
    assert not written.failed, written.turn.text
    assert written.turn.text.startswith("wrote reports/velocity.xlsx (")
    assert f"attached velocity.xlsx v1 to task #{task_id}" in written.turn.text
    report = workspace.root / "reports" / "velocity.xlsx"
    with srv.client() as operator:
        (artifact,) = operator.get(f"/api/v1/tasks/{task_id}/artifacts").json()["artifacts"]
        assert (artifact["name"], artifact["created_by"], artifact["note"]) == (
            "velocity.xlsx",
            "agent:vega",
            "H1",
        )
        assert artifact["content_type"].endswith("spreadsheetml.sheet")
        content = operator.get(f"/api/v1/tasks/{task_id}/artifacts/{artifact['id']}/content")
        assert content.content == report.read_bytes(), "the card holds the file written"
    book = openpyxl.load_workbook(report)
    findings = list(book["Findings"].iter_rows(min_row=2, values_only=True))
    assert len(findings) == 11
    link = next(c for c in book["Findings"]["J"] if c.hyperlink is not None).hyperlink
    assert link is not None and link.target.startswith("../data/"), "relative to the report"
    with srv.client() as operator:
        decided = operator.get("/api/v1/events", params={"types": "policy.decided"}).json()
    asked = [e["data"]["action"] for e in decided["events"] if e["data"]["agent"] == "vega"]
    assert [a["kind"] for a in asked] == ["file.write"], "only the write is asked about"
    assert asked[0]["paths"] == [str(workspace.root / "reports" / "velocity.xlsx")]


def test_nothing_outside_the_workspace_is_read_or_written(srv: Server, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    generate(outside, transactions=50)
    spec = sample_spec("data").model_dump(mode="json")
    escaping = sample_spec("../../outside").model_dump(mode="json")
    _, results = run_calls(
        srv,
        tmp_path,
        [
            ("read_workbook", {"path": "../../outside/actuals.xlsx"}),
            ("read_workbook", {"path": "linked/actuals.xlsx"}),
            ("reconcile_workbooks", {"match": escaping["checks"][0]}),
            ("write_analysis", {"spec": spec, "output": "../escape.xlsx"}),
            ("write_analysis", {"spec": spec, "output": "report.csv"}),
            ("read_workbook", {"path": "data/missing.xlsx"}),
        ],
    )
    texts = [r.turn.text for r in results]
    assert all(r.failed for r in results), texts
    # (no task here: a written analysis would say "not attached"; none was written)
    assert "outside your workspace" in texts[0]
    assert "no file 'linked/actuals.xlsx'" in texts[1]
    assert "outside your workspace" in texts[2]
    assert "outside your workspace" in texts[3]
    assert "written as an .xlsx file" in texts[4]
    assert "no file 'data/missing.xlsx' in your workspace" in texts[5]
    assert not (tmp_path / "workspaces" / "escape.xlsx").exists()


def test_a_symbolic_link_to_a_source_outside_is_not_followed(srv: Server, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    generate(outside, transactions=50)
    fleet = load_fleet(srv.fleet_dir)
    vega = fleet.agent("vega")
    assert vega is not None
    root = Workspace.open(tmp_path / "workspaces", fleet, vega).root
    (root / "linked").symlink_to(outside, target_is_directory=True)
    (root / "budget.xlsx").symlink_to(outside / "budget.xlsx")
    _, results = run_calls(
        srv,
        tmp_path,
        [
            ("read_workbook", {"path": "linked/actuals.xlsx"}),
            ("read_workbook", {"path": "budget.xlsx"}),
        ],
    )
    for result in results:
        assert result.failed and "symbolic link" in result.turn.text, result.turn.text


@pytest.mark.parametrize("bad", [{"spec": {"title": "x"}}, {"spec": {"checks": [{"name": "m"}]}}])
def test_a_malformed_spec_is_a_readable_error(srv: Server, tmp_path: Path, bad: Any) -> None:
    _, (result,) = run_calls(srv, tmp_path, [("write_analysis", bad)])
    assert result.failed and "bad arguments for write_analysis" in result.turn.text


def test_the_workbook_tools_go_only_to_agents_holding_workbooks() -> None:
    from mcos.fleet.loader import check_fleet_text, template_text
    from mcos.runtime.finance_tools import FINANCE_TOOLS
    from mcos.runtime.tools import offered_tools

    fleet, problems = check_fleet_text(template_text())
    assert fleet is not None, problems
    names = {t.name for t in FINANCE_TOOLS}
    for agent in fleet.agents:
        offered = {t.name for t in offered_tools(agent)}
        if "workbooks" in agent.capabilities:
            assert names <= offered, agent.name
        else:
            # Their schema would ride on every model call of every agent.
            assert not names & offered, agent.name
    assert [a.name for a in fleet.agents if "workbooks" in a.capabilities] == ["vega"]
