"""Dashboard sign-in: operator tokens only, a server-side session in an HttpOnly cookie, CSRF
on every change, and the security headers on every answer."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import httpx

from mcos.api.session import CSRF_HEADER, SESSION_COOKIE
from tests.fixtures.server import ControlPlane, error_of, running_server

STATIC = Path(__file__).parents[2] / "src" / "mcos" / "dashboard" / "static"


@contextlib.contextmanager
def _signed_in(api: ControlPlane) -> Iterator[tuple[httpx.Client, str]]:
    with api.anonymous() as browser:
        signed = browser.post("/api/v1/dashboard/session", json={"token": api.operator_token})
        assert signed.status_code == 200, signed.text
        yield browser, signed.json()["csrf"]


def test_operator_signs_in_to_a_server_side_session_with_an_httponly_strict_cookie(
    api: ControlPlane,
) -> None:
    with _signed_in(api) as (browser, csrf):
        secret = browser.cookies[SESSION_COOKIE]
        # The cookie holds a session's secret, never the operator token.
        assert secret != api.operator_token and secret.startswith("mcos_s_")
        again = browser.get("/api/v1/dashboard/session")
        assert again.status_code == 200 and again.json() == {
            "operator": "operator",
            "role": "owner",
            "csrf": csrf,
        }
        snapshot = browser.get("/api/v1/dashboard/snapshot")
        assert snapshot.status_code == 200
        assert len(snapshot.json()["agents"]) == 23

        # A second sign-in is a second session, with its own secret and CSRF token.
        second = browser.post("/api/v1/dashboard/session", json={"token": api.operator_token})
        cookie = second.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain http on loopback, no TLS proxy configured
        assert browser.cookies[SESSION_COOKIE] != secret and second.json()["csrf"] != csrf
        csrf = second.json()["csrf"]

        out = browser.delete("/api/v1/dashboard/session", headers={CSRF_HEADER: csrf})
        assert out.status_code == 204
        assert browser.get("/api/v1/dashboard/snapshot").status_code == 401

        # Signing out ended the session on the server: a copy of the cookie is worthless.
        browser.cookies.set(SESSION_COOKIE, second.cookies[SESSION_COOKIE])
        refused = browser.get("/api/v1/dashboard/snapshot")
        assert refused.status_code == 401 and error_of(refused)["field"] == SESSION_COOKIE
        # The first session, never signed out, still works until its token is revoked.
        browser.cookies.set(SESSION_COOKIE, secret)
        assert browser.get("/api/v1/dashboard/snapshot").status_code == 200


def test_revoking_the_operator_token_ends_its_sessions(api: ControlPlane) -> None:
    with api.client() as operator:
        issued = operator.post("/api/v1/operators", json={"name": "alice", "role": "approver"})
        assert issued.status_code == 201, issued.text
        alice = issued.json() | {"id": issued.json()["token_id"]}
    with api.anonymous() as browser:
        signed = browser.post("/api/v1/dashboard/session", json={"token": alice["token"]})
        assert signed.status_code == 200 and signed.json()["operator"] == "alice"
        assert browser.get("/api/v1/dashboard/snapshot").status_code == 200
        with api.client() as operator:
            revoked = operator.post(f"/api/v1/tokens/{alice['id']}/revoke", json={})
            assert revoked.status_code == 200, revoked.text
        ended = browser.get("/api/v1/dashboard/snapshot")
        assert ended.status_code == 401 and "sign in again" in error_of(ended)["message"]
        again = browser.post("/api/v1/dashboard/session", json={"token": alice["token"]})
        assert again.status_code == 401 and error_of(again)["field"] == "token"


def test_agent_and_unknown_tokens_cannot_sign_in(api: ControlPlane) -> None:
    donna = api.agent_token("donna")
    with api.anonymous() as browser:
        agent = browser.post("/api/v1/dashboard/session", json={"token": donna})
        assert agent.status_code == 403
        assert error_of(agent)["field"] == "token"
        assert "only operator tokens open the dashboard" in error_of(agent)["message"]
        assert SESSION_COOKIE not in browser.cookies

        unknown = browser.post("/api/v1/dashboard/session", json={"token": "mcos_o_nope"})
        assert unknown.status_code == 401 and error_of(unknown)["field"] == "token"
        empty = browser.post("/api/v1/dashboard/session", json={"token": ""})
        assert empty.status_code == 422 and error_of(empty)["field"] == "token"
        typo = browser.post("/api/v1/dashboard/session", json={"tokn": api.operator_token})
        assert typo.status_code == 422 and error_of(typo)["field"] in ("tokn", "token")
        not_signed = browser.get("/api/v1/dashboard/session")
        assert not_signed.status_code == 401

        # A cookie holding a token (set by hand) is no session: neither an agent's nor even
        # the operator's.
        for token in (donna, api.operator_token):
            browser.cookies.set(SESSION_COOKIE, token)
            forged = browser.get("/api/v1/dashboard/snapshot")
            assert forged.status_code == 401, forged.text


def test_changes_through_the_cookie_need_the_csrf_token_and_our_origin(api: ControlPlane) -> None:
    task = {"title": "Renew the Velo domain"}
    with _signed_in(api) as (browser, csrf):
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

        # The Host header is no proof of origin: a page rebinding its name to this address
        # sends a matching Host and Origin, and is still not the dashboard.
        rebound = browser.post(
            "/api/v1/tasks",
            json=task,
            headers={CSRF_HEADER: csrf, "Origin": "http://evil.example", "Host": "evil.example"},
        )
        assert rebound.status_code == 403 and error_of(rebound)["field"] == "Origin"

        created = browser.post(
            "/api/v1/tasks", json=task, headers={CSRF_HEADER: csrf, "Origin": api.url}
        )
        assert created.status_code == 201, created.text
        assert created.json()["creator"] == "operator:operator"
        # On a loopback address the other loopback name is the same dashboard.
        localhost = api.url.replace("127.0.0.1", "localhost")
        also = browser.post(
            "/api/v1/tasks", json=task, headers={CSRF_HEADER: csrf, "Origin": localhost}
        )
        assert also.status_code == 201, also.text
    with api.client() as operator:
        titles = [t["title"] for t in operator.get("/api/v1/tasks").json()["tasks"]]
        # Only the requests with the CSRF token changed anything; bearer calls need none.
        assert titles == ["Renew the Velo domain"] * 2
        assert operator.post("/api/v1/tasks", json=task).status_code == 201


def test_the_page_is_served_with_a_strict_policy_and_loads_nothing_remote(
    api: ControlPlane,
) -> None:
    with api.anonymous() as browser:
        _the_page_is_served_with_a_strict_policy(browser)


def _the_page_is_served_with_a_strict_policy(browser: httpx.Client) -> None:
    page = browser.get("/")
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
        served = browser.get("/static/" + path.relative_to(STATIC).as_posix())
        assert served.status_code == 200 and served.text == text
    missing = browser.get("/static/nope.js")
    assert missing.status_code == 404
    # Every answer carries the policy: API answers and errors as much as the page.
    for response in (missing, browser.get("/api/v1/health")):
        assert response.headers["content-security-policy"] == policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"


def test_behind_a_tls_proxy_the_cookie_is_secure_and_only_the_public_origin_is_ours(
    tmp_path: Path,
) -> None:
    database = f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}"
    public = {"MCOS_PUBLIC_URL": "https://mc.example.com", "MCOS_TRUSTED_PROXIES": "127.0.0.1"}
    with running_server(tmp_path, database, public) as server:
        with httpx.Client(base_url=server.url, timeout=30) as browser:
            signed = browser.post(
                "/api/v1/dashboard/session", json={"token": server.operator_token}
            )
            assert "Secure" in signed.headers["set-cookie"]
            assert signed.headers["strict-transport-security"] == "max-age=31536000"
            secret = signed.cookies[SESSION_COOKIE]
            # httpx keeps a Secure cookie for https only: send it by hand, as the proxy would.
            headers = {"Cookie": f"{SESSION_COOKIE}={secret}", CSRF_HEADER: signed.json()["csrf"]}
            task = {"title": "Renew the certificate"}
            ours = browser.post(
                "/api/v1/tasks", json=task, headers=headers | {"Origin": "https://mc.example.com"}
            )
            assert ours.status_code == 201, ours.text
            direct = browser.post(
                "/api/v1/tasks", json=task, headers=headers | {"Origin": server.url}
            )
            assert direct.status_code == 403 and error_of(direct)["field"] == "Origin"
            assert "https://mc.example.com" in error_of(direct)["message"]


def test_x_forwarded_proto_is_believed_from_trusted_proxies_only(tmp_path: Path) -> None:
    for trusted, secure in (("", False), ("127.0.0.1", True)):
        folder = tmp_path / (trusted or "none")
        folder.mkdir()
        database = f"sqlite+pysqlite:///{folder / 'mcos.db'}"
        with running_server(folder, database, {"MCOS_TRUSTED_PROXIES": trusted}) as server:
            signed = httpx.post(
                server.url + "/api/v1/dashboard/session",
                json={"token": server.operator_token},
                headers={"X-Forwarded-Proto": "https"},
            )
            assert signed.status_code == 200, signed.text
            assert ("Secure" in signed.headers["set-cookie"]) is secure, trusted
