"""The morning briefing: the last day from the data, every figure the API's own."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from mcos.fleet.loader import load_fleet
from mcos.services.written_briefing import numbers_in
from tests.fixtures.server import ControlPlane, Server, error_of

EXEC = {"kind": "shell.exec", "command": "npm run build", "paths": ["/srv/fibreflow/staging"]}


def _task(operator: httpx.Client, *moves: str, **body: Any) -> int:
    created = operator.post("/api/v1/tasks", json=body)
    assert created.status_code == 201, created.text
    task_id: int = created.json()["id"]
    for status in moves:
        reason = "waiting on the ISP" if status == "blocked" else None
        moved = operator.post(
            f"/api/v1/tasks/{task_id}/move", json={"status": status, "reason": reason}
        )
        assert moved.status_code == 200, moved.text
    return task_id


def _day(server: Server) -> dict[str, Any]:
    with (
        server.client() as operator,
        server.agent("donna") as donna,
        server.agent("flow") as flow,
        server.agent("sentinel") as sentinel,
    ):
        digest = _task(
            operator,
            "in_progress",
            "review",
            "done",
            title="Inbox digest",
            kind="email-triage",
            assignee="donna",
        )
        outage = _task(operator, "in_progress", "blocked", title="Velo outage", assignee="elon")
        # Due later today in the fleet's time zone (two hours on, or a minute before midnight
        # there): "now + 2 h" alone is tomorrow in Johannesburg after 22:00 local time.
        zone = ZoneInfo(load_fleet(server.fleet_dir / "fleet.toml").fleet.timezone)
        now = datetime.now(zone)
        midnight = datetime.combine(now.date() + timedelta(days=1), time(), zone)
        due = min(now + timedelta(hours=2), midnight - timedelta(minutes=1)).isoformat()
        renewal = _task(operator, title="Renew the domain", priority="urgent", due_at=due)
        costs = [
            donna.post(
                "/api/v1/agents/donna/usage", json={"input_tokens": 50_000, "output_tokens": 900}
            ).json()["cost_usd"]
            for _ in range(2)
        ]
        for _ in range(2):
            assert flow.post("/api/v1/actions", json=EXEC).status_code == 403
        early = donna.post(
            "/api/v1/agents/donna/compactions", json={"tokens_before": 180_000, "tokens_after": 0}
        )
        assert early.status_code == 409, early.text
        restore = flow.post("/api/v1/approvals", json={"capability": "exec", "reason": "rebuild"})
        assert restore.status_code == 201, restore.text
        p0 = sentinel.post("/api/v1/incidents", json={"severity": "P0", "title": "Breach?"})
        p3 = sentinel.post("/api/v1/incidents", json={"severity": "P3", "title": "Noisy log"})
        return {
            "digest": digest,
            "outage": outage,
            "renewal": renewal,
            "spent": sum(costs),
            "approval": restore.json()["id"],
            "p0": p0.json()["id"],
            "p3": p3.json()["id"],
        }


def test_the_briefing_is_the_day_as_the_api_records_it(api: ControlPlane) -> None:
    day = _day(api)
    with api.client() as operator:
        brief = operator.get("/api/v1/briefing").json()
        usage = operator.get("/api/v1/usage").json()
        incidents = {i["id"]: i for i in operator.get("/api/v1/incidents").json()["incidents"]}

    assert brief["written_by"] == "data" and brief["hours"] == 24
    assert [t["id"] for t in brief["work"]["done"]] == [day["digest"]]
    [blocked] = brief["work"]["blocked"]
    assert blocked["id"] == day["outage"] and blocked["reason"] == "waiting on the ISP"
    assert brief["work"]["created"] == 3
    assert [i["id"] for i in brief["incidents"]] == [day["p0"], day["p3"]]
    assert [i["status"] for i in brief["incidents"]] == [
        incidents[day["p0"]]["status"],
        incidents[day["p3"]]["status"],
    ]
    assert [a["id"] for a in brief["waiting"]["approvals"]] == [day["approval"]]
    assert [i["id"] for i in brief["waiting"]["incidents"]] == [day["p0"]]
    assert brief["spend"]["usage"] == usage
    assert brief["spend"]["window_usd"] == pytest.approx(day["spent"])
    assert brief["spend"]["window_calls"] == 2
    assert brief["misbehaviour"] == [
        {"agent": "flow", "what": {"actions refused by policy": 2}, "total": 2},
        {
            "agent": "donna",
            "what": {"compaction refused (no memory flush first)": 1},
            "total": 1,
        },
    ]
    # Due today and urgent first; the blocked outage is not planned work.
    assert [t["id"] for t in brief["planned"]] == [day["renewal"]]
    assert brief["planned"][0]["due_today"] is True
    assert brief["value"]["month"]["tasks_credited"] == 1

    text = brief["markdown"]
    for line in (
        "## Work done (1)",
        f"- #{day['digest']} Inbox digest — donna",
        f"- #{day['outage']} Velo outage — elon: waiting on the ISP",
        "## Incidents (2)",
        "## Waiting for a decision (2)",
        f"- approval #{day['approval']} (capability.restore, flow): rebuild; waiting for human",
        f"- today: ${usage['today_usd']:,.2f}; this month: ${usage['month_usd']:,.2f}",
        "- flow: actions refused by policy (2)",
        f"- #{day['renewal']} Renew the domain — unassigned [inbox, urgent] — due today",
    ):
        assert line in text, line

    # The orchestrator reads it too (it writes it), but only the incidents that reach it: the
    # P0 it must confirm, not Sentinel's self-logged P3.
    with api.agent("jarvis") as jarvis:
        seen = jarvis.get("/api/v1/briefing").json()
    assert [i["id"] for i in seen["incidents"]] == [day["p0"]]
    assert [i["id"] for i in seen["waiting"]["incidents"]] == [day["p0"]]
    assert "Noisy log" in text and "Noisy log" not in seen["markdown"]


def test_mcos_brief_prints_it_and_bad_asks_are_refused(server: Server) -> None:
    day = _day(server)
    printed = server.mcos("brief").stdout
    assert printed.startswith("# Morning briefing — Specter Holdings")
    assert f"#{day['digest']} Inbox digest" in printed
    as_json = json.loads(server.mcos("brief", "--json", "--hours", "1").stdout)
    assert as_json["hours"] == 1 and as_json["markdown"].startswith("# Morning briefing")
    wrong = server.mcos("brief", "--hours", "0", check=False)
    assert wrong.returncode != 0 and "--hours" in wrong.stderr

    with server.client() as operator, server.agent("donna") as donna:
        too_far = operator.get("/api/v1/briefing", params={"hours": 10_000})
        assert too_far.status_code == 422 and error_of(too_far)["field"] == "hours"
        # Only the orchestrator among agents reads it (it lists unconfirmed incidents).
        agent = donna.get("/api/v1/briefing")
        assert agent.status_code == 403 and "briefing" in error_of(agent)["message"]


def test_numbers_are_read_whole_with_their_rand_sign() -> None:
    text = "R85,000 a month, $1,250.50 and 3 incidents; BR549 is no number, nor is v2.1"
    assert numbers_in(text) == {"85000", "1250.5", "3"}


def test_the_orchestrators_written_briefing_comes_first_and_its_numbers_are_checked(
    server: Server,
) -> None:
    day = _day(server)
    with (
        server.client() as operator,
        server.agent("jarvis") as jarvis,
        server.agent("donna") as donna,
    ):
        before = operator.get("/api/v1/briefing").json()
        assert before["written"] is None and before["markdown"] == before["data_markdown"]

        def briefing_task(agent: httpx.Client, name: str, text: str) -> int:
            task_id = _task(operator, title="Morning briefing", kind="briefing", assignee=name)
            base = f"/api/v1/tasks/{task_id}"
            assert agent.post(f"{base}/move", json={"status": "in_progress"}).status_code == 200
            assert agent.post(f"{base}/comments", json={"body": text}).status_code == 201
            assert agent.post(f"{base}/move", json={"status": "review"}).status_code == 200
            # Finished is not accepted: the operator who reads it accepts it.
            own = agent.post(f"{base}/move", json={"status": "done"})
            assert own.status_code == 403 and "its own work" in error_of(own)["message"]
            return task_id

        text = (
            f"(simulated) Good morning. The digest (#{day['digest']}) is done, the velo outage "
            "is blocked waiting on the ISP, and 4217 emails worth R9,999 are waiting."
        )
        written_id = briefing_task(jarvis, "jarvis", text)
        # A briefing-kind task summarised by an agent that is not the orchestrator is no
        # written briefing.
        donnas = briefing_task(donna, "donna", "(simulated) Everything is fine, 99 percent.")
        # Written, and waiting in review for the operator: it heads the briefing already.
        waiting = operator.get("/api/v1/briefing").json()
        assert waiting["written"]["task_id"] == written_id
        assert [t["id"] for t in waiting["work"]["review"]] == [written_id, donnas]
        assert (
            f"## Waiting for review (2)\n- #{written_id} Morning briefing"
            in (waiting["data_markdown"])
        )
        for task_id in (written_id, donnas):
            accepted = operator.post(f"/api/v1/tasks/{task_id}/move", json={"status": "done"})
            assert accepted.status_code == 200, accepted.text
        brief = operator.get("/api/v1/briefing").json()
        printed = server.mcos("brief").stdout

    written = brief["written"]
    assert written["by"] == "jarvis" and written["task_id"] == written_id
    assert written["text"] == text and written["model"] == "claude-sonnet-4-6"
    assert written["unverified_numbers"] == ["4217", "9999"]
    # The figures are the data's, unchanged, after the written text.
    assert brief["written_by"] == "data"
    assert brief["markdown"].endswith("---\n\n" + brief["data_markdown"])
    data = brief["data_markdown"]
    assert data.startswith("# Morning briefing — Specter Holdings")
    assert "From Jarvis" not in data and "4217" not in data
    assert f"- #{day['digest']} Inbox digest — donna" in data
    assert f"- #{written_id} Morning briefing — jarvis" in data
    assert [t["id"] for t in brief["work"]["done"]][:2] == [day["digest"], written_id]
    assert brief["spend"]["window_usd"] == pytest.approx(day["spent"])
    head, _, _ = brief["markdown"].partition("\n---\n")
    assert head.splitlines()[:3] == [
        "# From Jarvis (written by the model claude-sonnet-4-6; every figure below it is the "
        "data's)",
        "",
        text,
    ]
    assert "> Warning: these numbers in the written text are not in the data: 4217, 9999." in head
    # `mcos brief` shows it the same way, "(simulated)" and all.
    assert printed.startswith("# From Jarvis (written by the model claude-sonnet-4-6;")
    assert f"\n{text}\n" in printed and "not in the data: 4217, 9999." in printed
