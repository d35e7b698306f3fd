"""The dashboard's briefing shows the same day as `GET /api/v1/briefing`."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.fixtures.browser import sign_in, wait_until_ready
from tests.fixtures.server import Server


def test_the_briefing_view_shows_the_days_work_decisions_and_misbehaviour(
    page: Page, dashboard_server: Server
) -> None:
    with dashboard_server.client() as operator, dashboard_server.agent("flow") as flow:
        task = operator.post("/api/v1/tasks", json={"title": "Fix <the> build", "assignee": "flow"})
        task_id = task.json()["id"]
        for status in ("in_progress", "review", "done"):
            assert operator.post(
                f"/api/v1/tasks/{task_id}/move", json={"status": status}
            ).is_success
        assert (
            flow.post("/api/v1/actions", json={"kind": "shell.exec", "command": "make"}).status_code
            == 403
        )
        asked = flow.post("/api/v1/approvals", json={"capability": "exec", "reason": "redeploy"})
        assert asked.status_code == 201, asked.text
        brief = operator.get("/api/v1/briefing").json()

    sign_in(page, dashboard_server.operator_token)
    page.goto("/#/brief")
    wait_until_ready(page)
    view = page.locator("[data-brief]")
    expect(view).to_contain_text(f"#{task_id} Fix <the> build")
    expect(view).to_contain_text("redeploy")
    expect(view).to_contain_text("flow: actions refused by policy (1)")
    today = brief["spend"]["usage"]["today_usd"]
    expect(view).to_contain_text(f"today ${today:,.2f}")
    expect(page.locator('nav a[data-view="brief"]')).to_have_attribute("aria-current", "page")
    # The value line carries the ROI's basis: model spend and the fixed costs.
    month = brief["value"]["month"]
    value = view.locator("[data-value]")
    expect(value).to_contain_text(f"cost ${month['cost_usd']:,.2f}")
    expect(value).to_contain_text(f"fixed costs ${month['fixed_costs_usd']:,.2f}")
    expect(value).to_contain_text(f"model spend ${month['spend_usd']:,.2f}")
