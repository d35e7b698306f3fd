"""The approvals inbox: what waits for the operator is counted, shown frozen, and decided."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.fixtures.browser import sign_in, wait_until_ready
from tests.fixtures.server import Server

PAYMENT = {
    "kind": "payment.send",
    "amount_usd": 1_250.0,
    "recipient": "supplier@fibre.za",
    "reason": "fibre splice kits",
}
TITLE = "Mission Control — Specter Holdings"


def test_an_approval_approved_in_the_page_is_approved_in_the_api(
    page: Page, dashboard_server: Server
) -> None:
    with dashboard_server.agent("vega") as vega:
        asked = vega.post("/api/v1/actions", json=PAYMENT)
    assert asked.status_code == 202, asked.text
    approval_id = asked.json()["approval_id"]

    sign_in(page, dashboard_server.operator_token)
    wait_until_ready(page)
    expect(page).to_have_title(f"(1) {TITLE}")
    page.goto("/#/inbox")
    wait_until_ready(page)
    item = page.locator(f'[data-approval="{approval_id}"]')
    expect(item).to_contain_text("supplier@fibre.za")  # the frozen action, as asked
    expect(item).to_contain_text("vega")

    comment = "Paid from the ops account"
    item.locator("textarea").fill(comment)
    item.locator('button[data-act="approve"]').click()
    expect(page.locator(f'[data-approval="{approval_id}"]')).to_have_count(0)
    expect(page).to_have_title(TITLE)

    with dashboard_server.client() as operator:
        shown = operator.get(f"/api/v1/approvals/{approval_id}").json()
    assert shown["status"] == "approved"
    assert [(d["decision"], d["comment"]) for d in shown["decisions"]] == [("approve", comment)]
