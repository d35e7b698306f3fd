"""Named operators in the page: each signs in with their own token and sees who they are; a viewer
is shown no control that changes anything (and the server refuses them regardless); what an
approver decides is shown under their name."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.fixtures.browser import sign_in, wait_until_ready
from tests.fixtures.server import Server

PAYMENT = {
    "kind": "payment.send",
    "amount_usd": 90.0,
    "recipient": "supplier@fibre.za",
    "reason": "splice kits",
}
TRY_A_CHANGE = """async () => {
  const session = await (await fetch("/api/v1/dashboard/session")).json();
  const res = await fetch("/api/v1/tasks", {
    method: "POST",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": session.csrf},
    body: JSON.stringify({title: "a viewer's task"}),
  });
  return [res.status, (await res.json()).error.code];
}"""


def _people(server: Server) -> dict[str, Any]:
    """A viewer (vic) and an approver (bob), a task for Flow, a payment waiting, a P0 raised."""
    with server.client() as owner:
        tokens = {
            name: owner.post("/api/v1/operators", json={"name": name, "role": role}).json()["token"]
            for name, role in (("vic", "viewer"), ("bob", "approver"))
        }
        task = owner.post("/api/v1/tasks", json={"title": "Fix CI", "assignee": "flow"}).json()
    with server.agent("vega") as vega:
        approval = vega.post("/api/v1/actions", json=PAYMENT).json()["approval_id"]
    with server.agent("flow") as flow:
        incident = flow.post("/api/v1/incidents", json={"severity": "P0", "title": "db down"})
    return tokens | {"task": task["id"], "approval": approval, "incident": incident.json()["id"]}


def _no_write_control(page: Page, view: str) -> None:
    page.goto(f"/#/{view}")
    wait_until_ready(page)
    expect(page.locator("[data-write]:visible")).to_have_count(0)
    expect(page.locator("#view textarea:visible")).to_have_count(0)


def test_a_viewer_sees_no_write_control_and_an_approver_decides_under_their_name(
    page: Page, dashboard_server: Server
) -> None:
    made = _people(dashboard_server)

    sign_in(page, made["vic"])
    wait_until_ready(page)
    expect(page.locator("#tb-who")).to_have_text("vic · viewer (read-only)")
    for view in ("inbox", "board", "agents/flow"):
        _no_write_control(page, view)
    page.goto("/#/inbox")
    wait_until_ready(page)
    expect(page.locator(f'[data-approval="{made["approval"]}"]')).to_contain_text("fibre.za")
    expect(page.locator("button[data-act]:visible")).to_have_count(0)
    page.goto("/#/board")
    wait_until_ready(page)
    card = page.locator(f'[data-task="{made["task"]}"]')
    expect(card).to_have_attribute("draggable", "false")
    card.click()
    expect(page.locator("form.comment-form")).to_be_hidden()
    assert page.evaluate(TRY_A_CHANGE) == [403, "read_only_operator"]

    page.locator("#signout").click()
    sign_in(page, made["bob"])
    wait_until_ready(page)
    expect(page.locator("#tb-who")).to_have_text("bob · approver")
    page.goto("/#/inbox")
    wait_until_ready(page)
    incident = page.locator(f'[data-incident="{made["incident"]}"]')
    incident.locator('button[data-act="confirm"]').click()
    # A P0 also waits for the orchestrator: it waits on, with bob's part named.
    waiting = page.locator("[data-waiting-item]", has_text="P0 incident")
    expect(waiting).to_contain_text("human: approve by op:bob")
    expect(waiting).to_contain_text("waiting for orchestrator")

    with dashboard_server.client() as owner:
        shown = owner.get(f"/api/v1/incidents/{made['incident']}").json()
        log = owner.get("/api/v1/events", params={"types": "approval.decided"}).json()["events"]
    assert shown["status"] == "unconfirmed", "the orchestrator has not confirmed yet"
    assert [e["actor"] for e in log] == ["operator:bob"]
