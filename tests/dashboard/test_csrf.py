"""The session cookie alone changes nothing: a state-changing request needs the CSRF header."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

from tests.fixtures.browser import sign_in, wait_until_ready
from tests.fixtures.server import Server

CREATE_TASK = """async ({title, withHeader}) => {
  const session = await (await fetch("/api/v1/dashboard/session",
                                     {credentials: "same-origin"})).json();
  const headers = {"Content-Type": "application/json"};
  if (withHeader) headers["X-CSRF-Token"] = session.csrf;
  const response = await fetch("/api/v1/tasks", {
    method: "POST", credentials: "same-origin", headers, body: JSON.stringify({title}),
  });
  return {status: response.status, body: await response.json()};
}"""


def _titles(server: Server) -> list[str]:
    with server.client() as operator:
        return [task["title"] for task in operator.get("/api/v1/tasks").json()["tasks"]]


def test_a_state_changing_request_without_the_csrf_header_is_refused(
    page: Page, dashboard_server: Server
) -> None:
    sign_in(page, dashboard_server.operator_token)
    wait_until_ready(page)

    forged: dict[str, Any] = page.evaluate(
        CREATE_TASK, {"title": "Wire the deposit", "withHeader": False}
    )
    assert forged["status"] == 403
    assert forged["body"]["error"]["field"] == "X-CSRF-Token"
    assert "Wire the deposit" not in _titles(dashboard_server)

    sent: dict[str, Any] = page.evaluate(
        CREATE_TASK, {"title": "Order splice kits", "withHeader": True}
    )
    assert sent["status"] == 201, sent
    assert "Order splice kits" in _titles(dashboard_server)
