"""Notifications in the dashboard: a notification's link opens the exact item (even when the
operator must sign in first), and a failing notify channel is a banner that appears live."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.fixtures.browser import wait_until_ready
from tests.fixtures.server import Server

CHANNEL = """
[[notify]]
name = "owner-telegram"
kind = "telegram"
token_env = "MCOS_DASHBOARD_TEST_TELEGRAM_TOKEN"
chat_id = "1"
api_url = "http://127.0.0.1:9"
carries = ["p0", "approvals"]
"""


def test_a_notifications_link_opens_and_highlights_its_approval(
    page: Page, dashboard_server: Server
) -> None:
    with dashboard_server.client() as operator:
        ids = [
            operator.post(
                "/api/v1/approvals",
                json={"agent": agent, "capability": capability, "reason": f"asked for {agent}"},
            ).json()["id"]
            for agent, capability in (("flow", "exec"), ("elon", "spend"))
        ]
    page.goto(f"/#/inbox?approval={ids[1]}")  # as tapped in a notification, signed out
    page.locator("#signin #token").fill(dashboard_server.operator_token)
    page.locator("#signin [type=submit]").click()
    wait_until_ready(page)
    linked = page.locator(".item.linked")
    expect(linked).to_have_count(1)
    expect(linked).to_have_attribute("data-approval", str(ids[1]))
    expect(linked).to_contain_text("asked for elon")
    expect(linked).to_be_in_viewport()

    page.goto("/#/inbox?approval=999999")
    wait_until_ready(page)
    expect(page.locator(".link-note")).to_contain_text("Approval #999999 is no longer waiting")
    expect(page.locator(".item.linked")).to_have_count(0)


def test_a_failing_channel_is_a_banner_that_appears_live(
    page: Page, dashboard_server: Server
) -> None:
    dashboard_server.stop()
    path = dashboard_server.fleet_dir / "fleet.toml"
    path.write_text(path.read_text() + CHANNEL)
    dashboard_server.start()
    page.goto("/")
    page.locator("#signin #token").fill(dashboard_server.operator_token)
    page.locator("#signin [type=submit]").click()
    wait_until_ready(page)
    banner = page.locator("#notify-banner")
    expect(banner).to_be_hidden()

    with dashboard_server.client() as operator:
        answer = operator.post("/api/v1/notify/owner-telegram/test")
    assert answer.json()["ok"] is False, "its token variable is not set"
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("owner-telegram")
    expect(banner).to_contain_text("MCOS_DASHBOARD_TEST_TELEGRAM_TOKEN is not set")
