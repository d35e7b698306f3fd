"""Dashboard sign-in: operator tokens only, an HttpOnly cookie, and CSRF on every change."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import httpx

from mcos.api.session import CSRF_HEADER, SESSION_COOKIE
from tests.fixtures.server import Server, error_of

STATIC = Path(__file__).parents[2] / "src" / "mcos" / "dashboard" / "static"


@contextlib.contextmanager
def _signed_in(server: Server) -> Iterator[tuple[httpx.Client, str]]:
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        signed = browser.post("/api/v1/dashboard/session", json={"token": server.operator_token})
        assert signed.status_code == 200, signed.text
        yield browser, signed.json()["csrf"]


def test_operator_signs_in_with_an_httponly_strict_cookie(server: Server) -> None:
    with _signed_in(server) as (browser, csrf):
        cookie = browser.post(
            "/api/v1/dashboard/session", json={"token": server.operator_token}
        ).headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        again = browser.get("/api/v1/dashboard/session")
        assert again.status_code == 200 and again.json() == {"operator": "operator", "csrf": csrf}
        snapshot = browser.get("/api/v1/dashboard/snapshot")
        assert snapshot.status_code == 200
        assert len(snapshot.json()["agents"]) == 23

        out = browser.delete("/api/v1/dashboard/session", headers={CSRF_HEADER: csrf})
        assert out.status_code == 204
        assert browser.get("/api/v1/dashboard/snapshot").status_code == 401


def test_agent_and_unknown_tokens_cannot_sign_in(server: Server) -> None:
    donna = server.agent_token("donna")
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        agent = browser.post("/api/v1/dashboard/session", json={"token": donna})
        assert agent.status_code == 403
        assert error_of(agent)["field"] == "token"
        assert "agent tokens cannot use the dashboard" in error_of(agent)["message"]
        assert SESSION_COOKIE not in browser.cookies

        unknown = browser.post("/api/v1/dashboard/session", json={"token": "mcos_o_nope"})
        assert unknown.status_code == 401 and error_of(unknown)["field"] == "token"
        empty = browser.post("/api/v1/dashboard/session", json={"token": ""})
        assert empty.status_code == 422 and error_of(empty)["field"] == "token"
        typo = browser.post("/api/v1/dashboard/session", json={"tokn": server.operator_token})
        assert typo.status_code == 422 and error_of(typo)["field"] in ("tokn", "token")
        not_signed = browser.get("/api/v1/dashboard/session")
        assert not_signed.status_code == 401

        # A cookie holding an agent's token (set by hand) is no way in either.
        browser.cookies.set(SESSION_COOKIE, donna)
        forged = browser.get("/api/v1/dashboard/snapshot")
        assert forged.status_code == 403 and "agent tokens" in error_of(forged)["message"]


def test_changes_through_the_cookie_need_the_csrf_token_and_our_origin(server: Server) -> None:
    task = {"title": "Renew the Velo domain"}
    with _signed_in(server) as (browser, csrf):
        missing = browser.post("/api/v1/tasks", json=task)
        assert missing.status_code == 403 and error_of(missing)["field"] == CSRF_HEADER
        wrong = browser.post("/api/v1/tasks", json=task, headers={CSRF_HEADER: "0" * 64})
        assert wrong.status_code == 403 and error_of(wrong)["field"] == CSRF_HEADER
        elsewhere = browser.post(
            "/api/v1/tasks",
            json=task,
            headers={CSRF_HEADER: csrf, "Origin": "http://evil.example"},
        )
        assert elsewhere.status_code == 403 and error_of(elsewhere)["field"] == "Origin"
        no_sign_out = browser.delete("/api/v1/dashboard/session")
        assert no_sign_out.status_code == 403

        created = browser.post(
            "/api/v1/tasks", json=task, headers={CSRF_HEADER: csrf, "Origin": server.url}
        )
        assert created.status_code == 201, created.text
        assert created.json()["creator"] == "operator:operator"
    with server.client() as operator:
        titles = [t["title"] for t in operator.get("/api/v1/tasks").json()["tasks"]]
        # Only the request with the CSRF token changed anything; bearer calls need none.
        assert titles == ["Renew the Velo domain"]
        assert operator.post("/api/v1/tasks", json=task).status_code == 201


def test_the_page_is_served_with_a_strict_policy_and_loads_nothing_remote(server: Server) -> None:
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    files = sorted(p for p in STATIC.rglob("*") if p.is_file())
    assert {p.suffix for p in files} >= {".html", ".js", ".css"}
    for path in files:
        text = path.read_text()
        remote = re.findall(r"""(?:src|href|url|from|import)\s*[=(]?\s*["']?(?:https?:)?//""", text)
        assert remote == [], f"{path.name} loads something from another host: {remote}"
        served = httpx.get(server.url + "/static/" + path.relative_to(STATIC).as_posix())
        assert served.status_code == 200 and served.text == text
    assert httpx.get(server.url + "/static/nope.js").status_code == 404
