"""The value ledger: finished work credited at the fleet file's rates, set against spend."""

from __future__ import annotations

import calendar
import json
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from mcos.fleet.loader import template_text
from mcos.services.value import done_task_ids
from mcos.storage.database import Database
from mcos.storage.writer import WriteContext, write_once
from tests.fixtures.server import ControlPlane, Server, error_of

RAND_PER_USD = 19.0  # the template's [exchange_rates]
SAST = ZoneInfo("Africa/Johannesburg")  # the template's time zone


def _finish(operator: httpx.Client, kind: str | None, assignee: str = "donna") -> int:
    body = {"title": f"{kind} work", "assignee": assignee} | ({"kind": kind} if kind else {})
    task = operator.post("/api/v1/tasks", json=body)
    assert task.status_code == 201, task.text
    task_id: int = task.json()["id"]
    for status in ("in_progress", "review", "done"):
        moved = operator.post(f"/api/v1/tasks/{task_id}/move", json={"status": status})
        assert moved.status_code == 200, moved.text
    return task_id


def test_done_work_is_credited_at_the_ledgers_rates_against_spend(server: Server) -> None:
    with server.client() as operator, server.agent("donna") as donna:
        _finish(operator, "email-triage")
        _finish(operator, "email-triage")
        _finish(operator, "legal-document", "apex")
        _finish(operator, "unlisted-kind")
        _finish(operator, None)
        # Work not finished earns nothing.
        operator.post("/api/v1/tasks", json={"title": "open", "kind": "email-triage"})
        used = donna.post(
            "/api/v1/agents/donna/usage", json={"input_tokens": 200_000, "output_tokens": 20_000}
        )
        assert used.status_code == 201, used.text
        spend = used.json()["cost_usd"]
        roi = operator.get("/api/v1/usage/roi").json()
        snapshot = operator.get("/api/v1/dashboard/snapshot").json()
        brief = operator.get("/api/v1/briefing").json()

    month = roi["month"]
    kinds = {k["kind"]: k for k in month["kinds"]}
    # 2 digests x 90 min x R2,500/h and 1 document x 4 h x R2,500/h (the seed's figures).
    assert kinds["email-triage"] | {"value_usd": None} == {
        "kind": "email-triage",
        "tasks": 2,
        "minutes_saved": 180,
        "value": 7_500.0,
        "currency": "ZAR",
        "value_usd": None,
    }
    assert kinds["legal-document"]["value"] == 10_000.0
    assert kinds["infrastructure-incident"]["tasks"] == 0
    assert month["tasks_credited"] == 3 and month["hours_saved"] == 7.0
    assert month["value_usd"] == pytest.approx(17_500 / RAND_PER_USD, abs=0.01)
    assert month["spend_usd"] == pytest.approx(spend)
    # ROI is on the seed's own cost basis: model spend plus the servers ($90) and networking
    # ($30) a month, prorated to the days of the month begun.
    local = datetime.now(SAST)
    days_in_month = calendar.monthrange(local.year, local.month)[1]
    fixed = month["fixed_costs"]
    assert (fixed["days"], fixed["days_in_month"]) == (local.day, days_in_month)
    assert [(c["name"], c["monthly_usd"]) for c in fixed["items"]] == [
        ("servers", 90.0),
        ("infrastructure", 30.0),
    ]
    assert month["fixed_costs_usd"] == pytest.approx(120 * local.day / days_in_month, abs=0.01)
    assert month["cost_usd"] == pytest.approx(spend + month["fixed_costs_usd"], abs=0.01)
    assert month["roi"] == pytest.approx(month["value_usd"] / month["cost_usd"], abs=0.05)
    assert roi["today"]["fixed_costs_usd"] == pytest.approx(120 / days_in_month, abs=0.01)
    assert month["missing_exchange_rates"] == []
    assert roi["today"]["tasks_credited"] == 3
    assert roi["exchange_rates"] == {"ZAR": RAND_PER_USD}
    assert snapshot["value"] == roi

    shown = server.mcos("usage", "roi")
    assert "3 tasks credited, 7 h saved" in shown.stdout
    assert "email-triage" in shown.stdout and "ZAR     7,500.00" in shown.stdout
    assert f"ROI {month['roi']:g}:1" in shown.stdout
    assert f"(model spend ${spend:,.2f} + fixed costs ${month['fixed_costs_usd']:,.2f})" in (
        shown.stdout
    )
    assert "fixed: servers" in shown.stdout and "USD 90.00/month" in shown.stdout
    assert f"fixed costs ${month['fixed_costs_usd']:,.2f}" in brief["markdown"]
    assert f"against ${month['cost_usd']:,.2f}" in brief["markdown"]
    assert f"ROI {month['roi']:g}:1" in brief["markdown"]
    assert brief["value"] == roi
    assert json.loads(server.mcos("usage", "roi", "--json").stdout) == roi


def test_without_a_rate_or_a_ledger_the_ratio_is_not_made_up(server: Server) -> None:
    fleet_file = server.fleet_dir / "fleet.toml"
    server.stop()
    fleet_file.write_text(template_text().replace("ZAR = 19.0", ""))
    server.start()
    with server.client() as operator, server.agent("elon") as elon:
        _finish(operator, "infrastructure-incident", "elon")
        elon.post("/api/v1/agents/elon/usage", json={"input_tokens": 1_000, "output_tokens": 10})
        month = operator.get("/api/v1/usage/roi").json()["month"]
    assert month["tasks_credited"] == 1 and month["hours_saved"] == 3.0
    assert month["roi"] is None and month["missing_exchange_rates"] == ["ZAR"]
    assert "no exchange rate for ZAR" in server.mcos("usage", "roi").stdout

    server.stop()
    text = template_text()
    fleet_file.write_text(text[: text.index("[[value_ledger]]")])
    server.start()
    with server.client() as operator:
        missing = operator.get("/api/v1/usage/roi")
        assert operator.get("/api/v1/dashboard/snapshot").json()["value"] is None
    assert missing.status_code == 404
    assert "[[value_ledger]]" in error_of(missing)["message"]


def test_without_fixed_costs_roi_is_value_over_model_spend(server: Server) -> None:
    fleet_file = server.fleet_dir / "fleet.toml"
    server.stop()
    text, removed = re.subn(r"\[\[costs\.fixed\]\]\n(?:[^\n]+\n)+", "", template_text())
    assert removed == 2
    fleet_file.write_text(text)
    server.start()
    with server.client() as operator, server.agent("elon") as elon:
        _finish(operator, "infrastructure-incident", "elon")
        used = elon.post(
            "/api/v1/agents/elon/usage", json={"input_tokens": 50_000, "output_tokens": 5_000}
        )
        month = operator.get("/api/v1/usage/roi").json()["month"]
    spend = used.json()["cost_usd"]
    assert month["fixed_costs_usd"] == 0 and month["fixed_costs"]["items"] == []
    assert month["cost_usd"] == pytest.approx(spend)
    assert month["value_usd"] == pytest.approx(3 * 1_500 / RAND_PER_USD, abs=0.01)
    assert month["roi"] == pytest.approx(month["value_usd"] / spend, abs=0.05)


def test_only_work_someone_else_accepted_is_credited(api: ControlPlane) -> None:
    with api.client() as operator, api.agent("elon") as elon:
        task = operator.post(
            "/api/v1/tasks",
            json={"title": "fibreflow-api down", "kind": "infrastructure-incident"}
            | {"assignee": "elon"},
        ).json()["id"]
        for status in ("in_progress", "review"):
            moved = elon.post(f"/api/v1/tasks/{task}/move", json={"status": status})
            assert moved.status_code == 200, moved.text
        own = elon.post(f"/api/v1/tasks/{task}/move", json={"status": "done"})
        assert own.status_code == 403 and "its own work" in error_of(own)["message"]
        waiting = operator.get("/api/v1/usage/roi").json()["month"]
        # Elon's supervisor accepts it: now it is worth something.
        with api.agent("jarvis") as jarvis:
            accepted = jarvis.post(f"/api/v1/tasks/{task}/move", json={"status": "done"})
            assert accepted.status_code == 200, accepted.text
        credited = operator.get("/api/v1/usage/roi").json()["month"]
    assert waiting["tasks_credited"] == 0 and waiting["value_usd"] == 0
    assert credited["tasks_credited"] == 1 and credited["hours_saved"] == 3.0


def test_the_ledger_itself_skips_a_done_move_made_by_the_doer(database_url: str) -> None:
    """However a done move by its own assignee got into the log, it earns nothing."""
    db = Database(database_url)
    db.migrate()
    start = datetime.now(SAST) - timedelta(minutes=1)

    def moves(ctx: WriteContext) -> None:
        for task, actor in ((1, "agent:elon"), (2, "operator:1"), (3, "agent:jarvis")):
            data = {"task": task, "from": "review", "to": "done", "assignee": "elon"}
            ctx.append("task.moved", actor, f"task:{task}", data)

    write_once(db, moves)
    assert db.read(done_task_ids, start) == [2, 3]
    db.dispose()
