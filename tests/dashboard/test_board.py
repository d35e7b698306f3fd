"""The Kanban board obeys the API's transition rules, by mouse and by keyboard."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.fixtures.browser import sign_in, wait_until_ready
from tests.fixtures.server import Server, error_of


def _create(operator: httpx.Client, **body: Any) -> int:
    response = operator.post("/api/v1/tasks", json=body)
    assert response.status_code == 201, response.text
    task_id: int = response.json()["id"]
    return task_id


def _status(operator: httpx.Client, task_id: int) -> str:
    status: str = operator.get(f"/api/v1/tasks/{task_id}").json()["status"]
    return status


def test_a_card_dragged_where_it_may_not_go_is_refused_and_a_keyboard_move_is_applied(
    page: Page, dashboard_server: Server
) -> None:
    with dashboard_server.client() as operator:
        contract = _create(operator, title="Renew the fibre contract", priority="high")
        build = _create(operator, title="Fix the build", assignee="flow")

        sign_in(page, dashboard_server.operator_token)
        page.goto("/#/board")
        wait_until_ready(page)
        inbox = page.locator('[data-column="inbox"]')
        done = page.locator('[data-column="done"]')
        card = inbox.locator(f'[data-task="{contract}"]')
        expect(card).to_contain_text("Renew the fibre contract")

        # Nobody is assigned yet: inbox -> done skips the board, and the server says why.
        with page.expect_response(lambda r: r.url.endswith(f"/tasks/{contract}/move")) as moved:
            card.drag_to(done)
        assert moved.value.status == 409
        reason = error_of(operator.post(f"/api/v1/tasks/{contract}/move", json={"status": "done"}))
        refusal = page.locator('[role="alert"].toast.refusal')
        expect(refusal).to_be_visible()
        expect(refusal).to_contain_text(reason["message"])
        expect(inbox.locator(f'[data-task="{contract}"]')).to_be_visible()
        expect(done.locator(f'[data-task="{contract}"]')).to_have_count(0)
        assert _status(operator, contract) == "inbox"

        # The keyboard: Shift+ArrowRight moves an assigned card on to in_progress.
        keyed = page.locator(f'[data-column="assigned"] [data-task="{build}"]')
        keyed.focus()
        with page.expect_response(lambda r: r.url.endswith(f"/tasks/{build}/move")) as moved:
            page.keyboard.press("Shift+ArrowRight")
        assert moved.value.status == 200
        expect(page.locator(f'[data-column="in_progress"] [data-task="{build}"]')).to_be_visible()
        expect(page.locator(f'[data-column="assigned"] [data-task="{build}"]')).to_have_count(0)
        assert _status(operator, build) == "in_progress"


def test_a_card_created_in_the_page_is_opened_with_its_history_and_reassigned(
    page: Page, dashboard_server: Server
) -> None:
    sign_in(page, dashboard_server.operator_token)
    page.goto("/#/board")
    wait_until_ready(page)
    page.locator("button#new-task").click()
    form = page.locator("form#task-form")
    form.locator("[name=title]").fill("Renew the domain names")
    form.locator("[name=description]").fill("velocityfibre.co.za expires on the 30th")
    form.locator("[name=priority]").select_option("high")
    form.locator("[name=assignee]").select_option("flow")
    with page.expect_response(lambda r: r.url.endswith("/api/v1/tasks")) as created:
        form.locator("[type=submit]").click()
    assert created.value.status == 201
    task_id = created.value.json()["id"]
    card = page.locator(f'[data-column="assigned"] [data-task="{task_id}"]')
    expect(card).to_contain_text("Renew the domain names")

    with dashboard_server.agent("flow") as flow:
        said = flow.post(f"/api/v1/tasks/{task_id}/comments", json={"body": "Renewed for 2 years"})
    assert said.status_code == 201, said.text
    card.click()
    panel = page.locator('[data-panel="task"]')
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("velocityfibre.co.za expires on the 30th")
    expect(panel).to_contain_text("Renewed for 2 years")
    expect(panel.locator(".history li")).to_have_count(2)  # created, commented

    with page.expect_response(lambda r: r.url.endswith(f"/tasks/{task_id}/assign")) as assigned:
        panel.locator("select").select_option("elon")
    assert assigned.value.status == 200
    with dashboard_server.client() as operator:
        task = operator.get(f"/api/v1/tasks/{task_id}").json()
    assert (task["title"], task["priority"], task["assignee"]) == (
        "Renew the domain names",
        "high",
        "elon",
    )
    assert [entry["type"] for entry in task["history"]] == [
        "task.created",
        "task.commented",
        "task.assigned",
    ]
    expect(panel.locator(".history li")).to_have_count(3)
