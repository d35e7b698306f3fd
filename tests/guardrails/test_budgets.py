"""Budgets: every call priced from the price table; over budget the agent is paused, visibly."""

from __future__ import annotations

from decimal import Decimal

from genai_prices import Usage, calc_price

from tests.fixtures.server import Server, error_of

CALL = {"input_tokens": 12_000, "output_tokens": 800, "latency_ms": 950}


def test_an_agent_over_budget_is_paused_until_an_operator_raises_it(server: Server) -> None:
    with server.agent("donna") as donna, server.client() as operator:
        check = donna.post("/api/v1/agents/donna/budget/check", json={"estimated_usd": 0.05})
        assert check.status_code == 200 and check.json()["allowed"] is True
        assert (
            donna.patch(
                "/api/v1/agents/donna/budget", json={"daily_usd": 100, "reason": "me"}
            ).status_code
            == 403
        )
        lowered = operator.patch(
            "/api/v1/agents/donna/budget", json={"daily_usd": 0.10, "reason": "test the pause"}
        )
        assert lowered.status_code == 200, lowered.text

        first = donna.post("/api/v1/agents/donna/usage", json=CALL)
        assert first.status_code == 201, first.text
        expected = calc_price(
            Usage(input_tokens=12_000, output_tokens=800),
            model_ref="claude-sonnet-4-6",
            provider_id="anthropic",
        ).total_price
        assert Decimal(str(first.json()["cost_usd"])) == Decimal(expected)
        assert first.json()["paused"] is False
        # Each call costs $0.048: two stay under the $0.10 a day, the third breaks it.
        second = donna.post("/api/v1/agents/donna/usage", json=CALL)
        assert second.json()["paused"] is False
        third = donna.post("/api/v1/agents/donna/usage", json=CALL)
        assert third.json()["paused"] is True
        refused = donna.post("/api/v1/agents/donna/budget/check", json={})
        assert refused.status_code == 409 and error_of(refused)["code"] == "paused"
        agent = operator.get("/api/v1/agents/donna").json()
        assert agent["liveness"] == "suspended" and "daily usd" in agent["paused_reason"]
        told = operator.get("/api/v1/events", params={"types": "budget.*"}).json()["events"]
        assert [e["type"] for e in told] == ["budget.changed", "budget.exceeded", "budget.refused"]

        raised = operator.patch(
            "/api/v1/agents/donna/budget", json={"daily_usd": 5, "reason": "digest day"}
        )
        assert raised.json()["paused"] is False
        assert donna.post("/api/v1/agents/donna/budget/check", json={}).status_code == 200
        summary = operator.get("/api/v1/usage").json()
        row = next(a for a in summary["agents"] if a["agent"] == "donna")
        assert row["spent"]["daily_tokens"] == 3 * 12_800 and row["budget"]["daily_usd"] == 5
        assert [m["calls"] for m in summary["models_this_month"]] == [3]

        bad = donna.post("/api/v1/agents/donna/usage", json=CALL | {"model": "claude-9000"})
        assert bad.status_code == 422 and error_of(bad)["field"] == "model"

        # Nothing retries early: a cooldown refuses the budget check until it ends.
        donna.post("/api/v1/agents/donna/cooldown", json={"retry_after_seconds": 60})
        cooling = donna.post("/api/v1/agents/donna/budget/check", json={})
        assert cooling.status_code == 409 and error_of(cooling)["code"] == "cooling_down"
    assert "donna" in server.mcos("usage", "ls").stdout
