"""Everyone can read the cockpit: axe-core finds no WCAG 2.0/2.1 A or AA failure on any view.

Every view the top bar links to (read from the page, so a view added to the nav is covered),
an open task panel and an agent's page, in the dark and the light colour scheme, on a
fleet seeded through the API with a day's worth of everything. ``mcos demo``'s played day is
audited the same way in its own test (tests/demo/test_demo.py), so the suite plays it once.
axe-core is injected into the page under test only (tests/fixtures/axe.py).

A failure lists each finding as ``[scheme view] rule (impact) at selector``, with axe-core's
summary (the colours and the ratio, for contrast) and the element's markup. Colours for new
views come from the variables in style.css's ``:root``, which are chosen to pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.fixtures.axe import SCHEMES, Scheme, audit, open_view, report, run_axe
from tests.fixtures.browser import VIEWPORT, sign_in, wait_until_ready
from tests.fixtures.server import Server


def created(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201, 202), response.text
    return response.json()


def seed_a_busy_day(srv: Server) -> dict[str, Any]:
    """Tasks in every column, agents in several states, messages of every kind, approvals,
    incidents and a committee waiting, spend against budgets: what each view shows at its
    fullest. Returns the ids the test opens."""
    with srv.client() as operator:
        tasks: dict[str, int] = {}
        for key, body in {
            "inbox": {"title": "Triage the <b>vendor</b> list", "priority": "low"},
            "contract": {"title": "Velo NDA", "kind": "legal-document", "assignee": "apex",
                         "priority": "high", "description": "Mutual NDA, two years."},
            "outage": {"title": "Core switch flapping", "assignee": "elon", "priority": "urgent"},
            "workbook": {"title": "Q3 variance workbook", "assignee": "vega"},
            "blocked": {"title": "Renew the wildcard certificate", "assignee": "flow"},
            "shipped": {"title": "Investor note", "assignee": "donna", "kind": "email-triage"},
        }.items():  # fmt: skip
            tasks[key] = created(operator.post("/api/v1/tasks", json=body))["id"]
        for key, path in {
            "contract": ("in_progress", "review"),
            "outage": ("in_progress",),
            "blocked": ("blocked",),
            "shipped": ("in_progress", "review", "done"),
        }.items():
            for status in path:
                created(operator.post(f"/api/v1/tasks/{tasks[key]}/move", json={"status": status}))
        created(
            operator.post(
                f"/api/v1/tasks/{tasks['contract']}/comments",
                json={"body": "Clause 4 needs the domicilium address."},
            )
        )
        created(
            operator.post(
                "/api/v1/incidents",
                json={"severity": "P0", "title": "Core switch down", "agent": "sentinel",
                      "body": "Repeated failed admin logins in logs/auth.log."},
            )
        )  # fmt: skip
        created(
            operator.post(
                "/api/v1/incidents",
                json={"severity": "P2", "title": "Backups slow", "agent": "elon"},
            )
        )
        committee = created(
            operator.post(
                "/api/v1/committees",
                json={"title": "Open a Durban office", "members": ["donna", "apex"],
                      "question": "Do we open a Durban office this year?", "human": True,
                      "quorum": 2},
            )
        )  # fmt: skip
        created(
            operator.post(
                "/api/v1/messages", json={"to": "jarvis", "kind": "directive", "body": "Ship it."}
            )
        )
    with srv.agent("donna") as donna:
        created(
            donna.post(
                f"/api/v1/committees/{committee['id']}/positions",
                json={"position": "for", "reasons": "Three clients asked for it."},
            )
        )
    beats: dict[str, dict[str, Any]] = {
        "donna": {"status": "working", "context_tokens": 190_000, "note": "Drafting replies"},
        "apex": {"status": "working", "current_task": tasks["contract"], "context_tokens": 40_000},
        "elon": {
            "status": "working",
            "current_task": tasks["outage"],
            "note": "Probing the switch",
        },
        "flow": {"status": "compacting", "context_tokens": 150_000},
        "vega": {"status": "idle"},
        "jarvis": {"status": "idle", "context_tokens": 12_000},
    }
    for name, beat in beats.items():
        with srv.agent(name) as agent:
            created(agent.post(f"/api/v1/agents/{name}/heartbeat", json=beat))
            created(
                agent.post(
                    f"/api/v1/agents/{name}/usage",
                    json={"input_tokens": 60_000, "output_tokens": 6_000},
                )
            )
    with srv.agent("jarvis") as jarvis:
        for body in (
            {
                "fleet": True,
                "kind": "directive",
                "body": "Freeze deploys until the switch is back.",
            },
            {"channel": "ops", "kind": "report", "body": "Switch replaced; monitoring."},
            {"to": "apex", "kind": "question", "body": "Is the NDA ready for review?"},
            {"to": "donna", "body": "Thanks."},
        ):
            created(jarvis.post("/api/v1/messages", json=body))
    with srv.agent("vega") as vega:
        created(
            vega.post(
                "/api/v1/actions",
                json={"kind": "payment.send", "amount_usd": 1_250.0, "reason": "splice kits",
                      "recipient": "supplier@fibre.za"},
            )
        )  # fmt: skip
        created(vega.post("/api/v1/agents/vega/memory", json={"content": "Q3 close is Friday."}))
    with srv.agent("pulse") as pulse:
        created(pulse.post("/api/v1/agents/pulse/cooldown", json={"retry_after_seconds": 3600}))
    return {"task": tasks["contract"], "agent": "apex"}


@pytest.fixture
def schemed_page(
    browser: Browser, dashboard_server: Server, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A fresh context in the colour scheme the test asks for; it fails if the page throws."""
    context = browser.new_context(
        base_url=dashboard_server.url,
        viewport=VIEWPORT,
        color_scheme=request.param,
        reduced_motion="reduce",  # a pulsing dot caught mid-fade is no finding
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(f"{error.name}: {error.message}"))
    try:
        yield tab
    finally:
        context.close()
    assert errors == [], f"the page raised uncaught errors: {errors}"


@pytest.mark.parametrize("schemed_page", SCHEMES, indirect=True)
def test_every_view_passes_axe_in_both_colour_schemes(
    schemed_page: Page, dashboard_server: Server, request: pytest.FixtureRequest
) -> None:
    seeded = seed_a_busy_day(dashboard_server)
    page = schemed_page
    scheme: Scheme = request.node.callspec.params["schemed_page"]
    sign_in(page, "not-a-token")  # the sign-in screen, with its refusal showing
    expect(page.locator("#signin-error")).not_to_be_empty()
    findings = [replace(f, screen=f"{scheme} sign-in") for f in run_axe(page, "")]
    sign_in(page, dashboard_server.operator_token)
    wait_until_ready(page)
    assert page.evaluate(f"matchMedia('(prefers-color-scheme: {scheme})').matches")
    findings += audit(page, seeded, scheme)
    open_view(page, "#/board")
    page.locator("#new-task").click()  # the new-task form, open
    expect(page.locator("#task-form")).to_be_visible()
    findings += [replace(f, screen=f"{scheme} #/board new task") for f in run_axe(page, "")]
    assert findings == [], report(findings)
