"""The value ledger: finished work credited at the fleet file's rates, set against spend."""

from __future__ import annotations

import json

import httpx
import pytest

from mcos.fleet.loader import template_text
from tests.fixtures.server import Server, error_of

RAND_PER_USD = 19.0  # the template's [exchange_rates]


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
    assert month["roi"] == pytest.approx(month["value_usd"] / spend, abs=0.05)
    assert month["missing_exchange_rates"] == []
    assert roi["today"]["tasks_credited"] == 3
    assert roi["exchange_rates"] == {"ZAR": RAND_PER_USD}
    assert snapshot["value"] == roi

    shown = server.mcos("usage", "roi")
    assert "3 tasks credited, 7 h saved" in shown.stdout
    assert "email-triage" in shown.stdout and "ZAR     7,500.00" in shown.stdout
    assert f"ROI {month['roi']:g}:1" in shown.stdout
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
