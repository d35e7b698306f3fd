"""The message log: the fleet's conversation as it happens, directives marked, filterable."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.fixtures.browser import sign_in, wait_until_ready
from tests.fixtures.server import Server


def test_messages_appear_as_they_are_sent_and_filters_narrow_the_log(
    page: Page, dashboard_server: Server
) -> None:
    sign_in(page, dashboard_server.operator_token)
    page.goto("/#/messages")
    wait_until_ready(page)

    sent: dict[str, int] = {}
    for sender, body in [
        ("jarvis", {"to": "donna", "kind": "directive", "body": "Chase the VAT return"}),
        ("apex", {"channel": "legal", "kind": "question", "body": "Who signs the NDA?"}),
        ("elon", {"channel": "ops", "body": "Deploy at five"}),
    ]:
        with dashboard_server.agent(sender) as agent:
            answer = agent.post("/api/v1/messages", json=body)
        assert answer.status_code == 201, answer.text
        message: dict[str, Any] = answer.json()
        sent[sender] = message["id"]

    directive = page.locator(f'[data-message="{sent["jarvis"]}"]')
    expect(directive).to_contain_text("Chase the VAT return")
    expect(directive).to_have_attribute("data-kind", "directive")
    expect(directive).to_contain_text("directive")  # marked as such, in words
    expect(page.locator(f'[data-message="{sent["elon"]}"]')).to_contain_text("Deploy at five")
    rows = page.locator("[data-message]")
    expect(rows).to_have_count(3)

    page.locator("select#filter-msg-kind").select_option("directive")
    expect(rows).to_have_count(1)
    expect(directive).to_be_visible()
    page.locator("select#filter-msg-kind").select_option("")
    page.locator("select#filter-msg-channel").select_option("legal")
    expect(rows).to_have_count(1)
    expect(page.locator(f'[data-message="{sent["apex"]}"]')).to_contain_text("Who signs the NDA?")
