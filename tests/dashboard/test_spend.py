"""The Spend view sets the value ledger against spend, from the same figures as the API."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.fixtures.browser import sign_in, wait_until_ready
from tests.fixtures.server import Server


def test_value_delivered_and_roi_are_shown_with_spend(page: Page, dashboard_server: Server) -> None:
    with dashboard_server.client() as operator, dashboard_server.agent("apex") as apex:
        task = operator.post(
            "/api/v1/tasks",
            json={"title": "Velo NDA", "kind": "legal-document", "assignee": "apex"},
        ).json()["id"]
        for status in ("in_progress", "review", "done"):
            assert operator.post(f"/api/v1/tasks/{task}/move", json={"status": status}).is_success
        used = apex.post(
            "/api/v1/agents/apex/usage", json={"input_tokens": 60_000, "output_tokens": 6_000}
        )
        assert used.status_code == 201, used.text
        month = operator.get("/api/v1/usage/roi").json()["month"]

    sign_in(page, dashboard_server.operator_token)
    page.goto("/#/spend")
    wait_until_ready(page)
    value = page.locator(".kpi.roi")
    expect(value).to_contain_text("Value this month")
    expect(value).to_contain_text(f"ROI {month['roi']:g}:1")
    expect(value).to_contain_text(f"${month['value_usd']:,.2f}")
    expect(value).to_contain_text("4 h saved")
    # The ratio's basis, as the seed computes its 40:1: model spend plus the fixed costs.
    basis = page.locator("table.roi-basis")
    expect(basis.locator('[data-basis="spend"]')).to_contain_text(f"${month['spend_usd']:,.2f}")
    servers = basis.locator('[data-fixed-cost="servers"]')
    expect(servers).to_contain_text("USD 90/month")
    expect(servers).to_contain_text(f"${month['fixed_costs']['items'][0]['usd']:,.2f}")
    expect(basis.locator('[data-fixed-cost="infrastructure"]')).to_contain_text("USD 30/month")
    fixed = month["fixed_costs"]
    cost = basis.locator('[data-basis="cost"]')
    expect(cost).to_contain_text(f"${month['cost_usd']:,.2f}")
    expect(cost).to_contain_text(f"{fixed['days']}/{fixed['days_in_month']} of the month")
    expect(basis.locator('[data-basis="value"]')).to_contain_text(f"${month['value_usd']:,.2f}")
    expect(basis.locator('[data-basis="roi"]')).to_contain_text(f"{month['roi']:g}:1")
