"""The fleet grid follows the event stream: what an agent reports shows at once, no reload."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.fixtures.browser import body_data, sign_in, wait_until_ready
from tests.fixtures.server import Server


def _last_seq(server: Server) -> str:
    return str(httpx.get(server.url + "/api/v1/health", timeout=10).json()["last_seq"])


def test_a_heartbeat_posted_by_an_agent_appears_on_the_grid_without_reload(
    page: Page, dashboard_server: Server
) -> None:
    donna_token = dashboard_server.agent_token("donna")
    sign_in(page, dashboard_server.operator_token)
    wait_until_ready(page)
    card = page.locator('[data-agent="donna"]')
    liveness = card.locator('[data-field="liveness"]')
    gauge = card.locator('[data-field="gauge"]')
    expect(liveness).not_to_have_text("working")
    gauge_before = gauge.inner_text()
    page.evaluate("window.__marker = 1")

    with dashboard_server.client(donna_token) as donna:
        answer = donna.post(
            "/api/v1/agents/donna/heartbeat",
            json={"status": "working", "context_tokens": 150_000, "note": "triaging inbox"},
        )
    assert answer.status_code == 200, answer.text

    expect(liveness).to_have_text("working")
    expect(card).to_have_attribute("data-liveness", "working")
    expect(gauge).not_to_have_text(gauge_before)
    expect(gauge).to_contain_text("75%")  # 150k of a 200k window
    expect(gauge).to_contain_text("150k")
    expect(gauge).not_to_contain_text("flush")
    expect(page.locator("body")).to_have_attribute("data-last-seq", _last_seq(dashboard_server))
    assert page.evaluate("window.__marker") == 1, "the page did not reload"
    assert body_data(page, "stream") == "live"

    # Past the flush line (200k - 20k floor - 4k soft threshold = 176k) the gauge says so.
    with dashboard_server.client(donna_token) as donna:
        donna.post("/api/v1/agents/donna/heartbeat", json={"context_tokens": 190_000})
    expect(gauge).to_contain_text("95%")
    expect(gauge).to_contain_text("flush")
    expect(liveness).to_have_text("idle")
    assert page.evaluate("window.__marker") == 1


def test_a_report_set_aside_shows_as_a_warning_on_the_card_without_reload(
    page: Page, dashboard_server: Server
) -> None:
    sign_in(page, dashboard_server.operator_token)
    wait_until_ready(page)
    card = page.locator('[data-agent="donna"]')
    warning = card.locator('[data-field="warnings"]')
    expect(warning).to_have_count(0)
    page.evaluate("window.__marker = 1")
    with dashboard_server.agent("donna") as donna:
        told = donna.post(
            "/api/v1/agents/donna/set-aside",
            json={
                "method": "POST",
                "path": "/api/v1/tasks/7/move",
                "status": 409,
                "error": "task #7: a task in done cannot move to review",
            },
        )
    assert told.status_code == 201, told.text
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("1 report refused for good and set aside")
    assert "task #7" in (warning.get_attribute("title") or "")
    assert page.evaluate("window.__marker") == 1, "the page did not reload"

    page.goto("/#/agents/donna")
    expect(page.locator("[data-warning]")).to_contain_text("POST /api/v1/tasks/7/move -> HTTP 409")
