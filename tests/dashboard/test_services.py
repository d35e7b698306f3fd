"""The Spend & health view lists the watched services and follows their outages live."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from tests.fixtures.browser import sign_in, wait_until_ready
from tests.fixtures.server import Server


def test_a_service_going_down_and_back_shows_live_with_its_incident_and_task(
    page: Page, dashboard_server: Server
) -> None:
    went_down = datetime.now(UTC) - timedelta(minutes=5)  # within the view's 30 days
    sign_in(page, dashboard_server.operator_token)
    page.goto("/#/spend")
    wait_until_ready(page)
    row = page.locator('tr[data-service="mission-control"]')
    expect(row).to_contain_text("mac-mini")
    expect(row).to_contain_text("jarvis")

    with dashboard_server.client() as operator:
        runner = operator.post(
            "/api/v1/tokens", json={"kind": "runner", "machine": "mac-mini"}
        ).json()["token"]
    with dashboard_server.client(runner) as mac_mini:
        mac_mini.headers["X-MCOS-Agent"] = "jarvis"
        down = mac_mini.post(
            "/api/v1/services/mission-control/state",
            json={
                "state": "down",
                "at": went_down.isoformat(),
                "failures": 2,
                "detail": "no process matches /mcos/",
                "diagnosis": "$ ps ax\n(nothing)",
            },
        )
        assert down.status_code == 200, down.text
        outage = down.json()

        expect(row).to_have_attribute("data-state", "down")  # no reload: the stream said so
        expect(row.locator(f'[data-incident="{outage["incident"]}"]')).to_be_visible()
        expect(row.locator(f'[data-task="{outage["task"]}"]')).to_be_visible()

        up = mac_mini.post(
            "/api/v1/services/mission-control/state",
            json={
                "state": "up",
                "before": "down",
                "at": (went_down + timedelta(seconds=40)).isoformat(),
            },
        )
        assert up.status_code == 200, up.text
    expect(row).to_have_attribute("data-state", "up")
    expect(row).to_contain_text("40s")  # its downtime
    expect(page.locator("section.services h2")).to_contain_text("0 of 1 outages stopped")
