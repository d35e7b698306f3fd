"""Signing in: operators get the cockpit, agent tokens do not."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.fixtures.browser import sign_in, wait_until_ready
from tests.fixtures.server import Server


def test_an_agent_token_is_refused_and_an_operator_sees_every_agent(
    page: Page, dashboard_server: Server
) -> None:
    with dashboard_server.client() as operator:
        agents = operator.get("/api/v1/agents").json()["agents"]
    names = sorted(agent["name"] for agent in agents)
    assert len(names) == 23, "the seed fleet"
    on_velo = sorted(agent["name"] for agent in agents if agent["machine"] == "velo")

    sign_in(page, dashboard_server.agent_token("donna"))
    error = page.locator("#signin-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("agent")
    expect(page.locator("#signin")).to_be_visible()
    assert page.context.cookies() == [], "no session for an agent"

    page.locator("#signin #token").fill("not-a-token")
    page.locator("#signin [type=submit]").click()
    expect(error).to_contain_text("token")

    page.locator("#signin #token").fill(dashboard_server.operator_token)
    page.locator("#signin [type=submit]").click()
    wait_until_ready(page)
    expect(page.locator("#signin")).to_be_hidden()
    cards = page.locator("[data-agent]")
    expect(cards).to_have_count(len(names))
    shown = cards.evaluate_all("cards => cards.map(card => card.dataset.agent)")
    assert sorted(shown) == names
    for name in ("jarvis", "quill"):
        expect(page.locator(f'[data-agent="{name}"]')).to_be_visible()
    expect(page).to_have_title("Mission Control — Specter Holdings")

    page.locator("select#filter-machine").select_option("velo")
    expect(cards).to_have_count(len(on_velo))
    assert sorted(cards.evaluate_all("cards => cards.map(card => card.dataset.agent)")) == on_velo
