"""The operator's committee vote in the Inbox: positions so far, reasons required, then recorded."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.fixtures.browser import sign_in, wait_until_ready
from tests.fixtures.server import Server

TITLE = "Mission Control — Specter Holdings"


def test_the_operator_votes_on_a_committee_from_the_inbox(
    page: Page, dashboard_server: Server
) -> None:
    with dashboard_server.client() as operator, dashboard_server.agent("donna") as donna:
        opened = operator.post(
            "/api/v1/committees",
            json={
                "title": "Open a Durban office",
                "question": "Do we open a Durban office this year?",
                "members": ["donna", "apex"],
                "human": True,
                "quorum": 2,
            },
        )
        assert opened.status_code == 201, opened.text
        cid = opened.json()["id"]
        donna.post(
            f"/api/v1/committees/{cid}/positions",
            json={"position": "for", "reasons": "<b>Three</b> clients asked for it."},
        ).raise_for_status()

    sign_in(page, dashboard_server.operator_token)
    wait_until_ready(page)
    expect(page).to_have_title(f"(1) {TITLE}")
    page.goto("/#/inbox")
    wait_until_ready(page)
    item = page.locator(f'[data-committee="{cid}"]')
    expect(item).to_contain_text("Do we open a Durban office this year?")
    # Agent-written reasons are shown as text, never as markup.
    expect(item).to_contain_text("<b>Three</b> clients asked for it.")
    expect(item.locator("b", has_text="Three")).to_have_count(0)

    item.locator('button[data-vote="for"]').click()  # no reasons yet: refused in the page
    expect(item).to_have_count(1)
    item.locator("textarea").fill("The numbers work.")
    item.locator('button[data-vote="for"]').click()
    expect(page.locator(f'[data-committee="{cid}"]')).to_have_count(0)
    expect(page).to_have_title(TITLE)

    with dashboard_server.client() as operator:
        shown = operator.get(f"/api/v1/committees/{cid}").json()
    assert (shown["status"], shown["outcome"]) == ("decided", "approved")
    assert {"member": "human", "position": "for", "reasons": "The numbers work."}.items() <= (
        shown["positions"][-1].items()
    )
