"""What agents write reaches the page as text: a title or a message cannot become markup."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.fixtures.browser import sign_in, wait_until_ready
from tests.fixtures.server import Server

PAYLOAD = '<img src="/nope" onerror="window.__xss=1"><b id="injected">bold</b>'


def test_agent_written_strings_are_shown_as_text(page: Page, dashboard_server: Server) -> None:
    with dashboard_server.agent("jarvis") as jarvis:
        task = jarvis.post("/api/v1/tasks", json={"title": PAYLOAD, "assignee": "donna"})
        assert task.status_code == 201, task.text
        said = jarvis.post("/api/v1/messages", json={"to": "donna", "body": PAYLOAD})
        assert said.status_code == 201, said.text
        beat = jarvis.post("/api/v1/agents/jarvis/heartbeat", json={"note": PAYLOAD})
        assert beat.status_code == 200, beat.text
    sign_in(page, dashboard_server.operator_token)
    wait_until_ready(page)

    expect(page.locator('[data-agent="jarvis"]')).to_contain_text(PAYLOAD)
    page.goto("/#/board")
    expect(page.locator(f'[data-task="{task.json()["id"]}"]')).to_contain_text(PAYLOAD)
    page.goto("/#/messages")
    expect(page.locator(f'[data-message="{said.json()["id"]}"]')).to_contain_text(PAYLOAD)
    assert page.locator("#injected").count() == 0
    assert page.evaluate("window.__xss") is None
