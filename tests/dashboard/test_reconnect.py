"""A dashboard left open across a server restart reconnects and catches up from Last-Event-ID."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.sync_api import Page, Response, expect

from tests.fixtures.browser import body_data, sign_in, wait_until_ready
from tests.fixtures.server import Server


def _last_seq(server: Server) -> int:
    seq: int = httpx.get(server.url + "/api/v1/health", timeout=10).json()["last_seq"]
    return seq


def _resumes_after(url: str, headers: dict[str, str]) -> str | None:
    """The seq a stream request asks to resume after: Last-Event-ID, else ``?after=``."""
    header = {k.lower(): v for k, v in headers.items()}.get("last-event-id")
    if header is not None:
        return header
    return parse_qs(urlsplit(url).query).get("after", [None])[0]


def test_a_dashboard_left_open_across_a_restart_catches_up_on_what_it_missed(
    page: Page, dashboard_server: Server
) -> None:
    tokens = {name: dashboard_server.agent_token(name) for name in ("donna", "elon", "flow")}

    def heartbeat(name: str, status: str, note: str) -> None:
        with dashboard_server.client(tokens[name]) as agent:
            answer = agent.post(
                f"/api/v1/agents/{name}/heartbeat", json={"status": status, "note": note}
            )
        assert answer.status_code == 200, answer.text

    sign_in(page, dashboard_server.operator_token)
    wait_until_ready(page)
    heartbeat("donna", "working", "before the restart")
    expect(page.locator('[data-agent="donna"] [data-field="liveness"]')).to_have_text("working")
    seen = _last_seq(dashboard_server)
    expect(page.locator("body")).to_have_attribute("data-last-seq", str(seen))
    page.evaluate("window.__marker = 1")

    # Hold the browser off (offline) until the server has moved on without it, then let it
    # reconnect and note where it asks to resume from.
    resumed: list[Response] = []
    page.on("response", lambda r: resumed.append(r) if "/api/v1/stream" in r.url else None)
    page.context.set_offline(True)
    dashboard_server.stop()
    expect(page.locator("body")).not_to_have_attribute("data-stream", "live")
    dashboard_server.start()
    heartbeat("elon", "working", "while the page was away")
    heartbeat("flow", "working", "also while it was away")
    heartbeat("donna", "idle", "after the restart")
    missed = _last_seq(dashboard_server)
    assert missed > seen
    page.context.set_offline(False)

    body = page.locator("body")
    expect(body).to_have_attribute("data-stream", "live", timeout=20_000)
    expect(body).to_have_attribute("data-last-seq", str(missed))
    for name in ("elon", "flow"):
        expect(page.locator(f'[data-agent="{name}"] [data-field="liveness"]')).to_have_text(
            "working"
        )
    expect(page.locator('[data-agent="donna"]')).to_have_attribute("data-liveness", "idle")
    assert page.evaluate("window.__marker") == 1, "caught up without a reload"
    assert body_data(page, "ready") == "1"
    opened = [r for r in resumed if r.status == 200]
    assert opened, "the page opened the stream again"
    where = _resumes_after(opened[0].url, opened[0].request.all_headers())
    assert where == str(seen), "it resumed where it had stopped"
