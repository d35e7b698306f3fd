"""The dispatcher end to end, in a real ``mcos serve``: a P0 reaches mail and webhook within
seconds, quiet hours hold an approval but not a P0, a failing channel is retried and shown
failing until it recovers, and nothing is sent twice across a restart."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import create_engine, update

from mcos.storage import tables
from tests.fixtures.server import Server, error_of, init_here, mcos_env
from tests.notify.receivers import HttpReceiver, SmtpServer

SECRET = "hook-secret-for-tests"
SETTINGS = {
    "MCOS_NOTIFY_TICK_SECONDS": "0.5",
    "MCOS_NOTIFY_RETRY_BASE_SECONDS": "0.3",
    "MCOS_NOTIFY_RETRY_MAX_SECONDS": "1",
    "MCOS_NOTIFY_TIMEOUT_SECONDS": "3",
    "NOTIFY_HOOK_SECRET": SECRET,
}


def mail_entry(port: int, carries: str = '["p0", "approvals"]', extra: str = "") -> str:
    return f"""
[[notify]]
name = "owner-mail"
kind = "email"
host = "127.0.0.1"
port = {port}
tls = "none"
from = "mc@specter.test"
to = ["owner@specter.test"]
carries = {carries}
{extra}"""


def hook_entry(url: str, carries: str = '["p0", "approvals"]', extra: str = "") -> str:
    return f"""
[[notify]]
name = "owner-hook"
kind = "webhook"
format = "signed"
url = "{url}"
secret_env = "NOTIFY_HOOK_SECRET"
carries = {carries}
{extra}"""


@contextlib.contextmanager
def serving(tmp_path: Path, database_url: str, entries: str) -> Iterator[Server]:
    env = mcos_env(tmp_path) | {"MCOS_DATABASE_URL": database_url} | SETTINGS
    fleet_dir = tmp_path / "fleet"
    init_here(fleet_dir, env)
    path = fleet_dir / "fleet.toml"
    path.write_text(path.read_text() + entries)
    srv = Server(fleet_dir, database_url, env)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def wait_until(ok: Callable[[], Any], what: str, seconds: float = 15) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = ok()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds}s: {what}")
        time.sleep(0.1)


def raise_p0(operator: httpx.Client, title: str = "Intrusion on velo") -> int:
    response = operator.post(
        "/api/v1/incidents",
        json={"agent": "sentinel", "severity": "P0", "title": title, "body": "ssh from 1.2.3.4"},
    )
    assert response.status_code == 201, response.text
    incident: int = response.json()["id"]
    return incident


def ask_approval(operator: httpx.Client, reason: str = "rebuild FibreFlow") -> int:
    response = operator.post(
        "/api/v1/approvals", json={"agent": "flow", "capability": "exec", "reason": reason}
    )
    assert response.status_code == 201, response.text
    approval: int = response.json()["id"]
    return approval


def overview(operator: httpx.Client) -> dict[str, Any]:
    response = operator.get("/api/v1/notify")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def channel_of(operator: httpx.Client, name: str) -> dict[str, Any]:
    return next(c for c in overview(operator)["channels"] if c["name"] == name)


def test_a_p0_reaches_mail_and_webhook_within_seconds(tmp_path: Path, database_url: str) -> None:
    with SmtpServer() as smtp, HttpReceiver(secret=SECRET) as hook:
        entries = mail_entry(smtp.port) + hook_entry(hook.url())
        with serving(tmp_path, database_url, entries) as srv, srv.client() as operator:
            incident = raise_p0(operator)
            wait_until(lambda: smtp.messages and hook.received, "the P0 arrives by mail and hook")
            (mail,) = smtp.messages
            assert mail["Subject"].startswith("P0 from sentinel: Intrusion on velo")
            link = f"{srv.url}/#/inbox?incident={incident}"
            assert link in mail.get_content(), "the mail links to the incident in the dashboard"
            (got,) = hook.received
            assert hook.state.bad_signatures == 0
            body = got.json()
            assert body["kind"] == "p0" and body["link"] == link
            assert got.headers["X-MCOS-Delivery"] == f"owner-hook:{body['event']['seq']}"
            # A delivery is on the wire before it is recorded as sent: wait for both records.
            wait_until(
                lambda: (
                    {
                        d["channel"]
                        for d in overview(operator)["deliveries"]
                        if d["status"] == "sent"
                    }
                    >= {"owner-mail", "owner-hook"}
                ),
                "both deliveries are recorded as sent",
            )
            assert all(c["status"] == "ok" for c in overview(operator)["channels"])


def test_quiet_hours_hold_an_approval_but_not_a_p0(tmp_path: Path) -> None:
    database_url = f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}"
    local = datetime.now(ZoneInfo("Africa/Johannesburg"))
    window = f"{local - timedelta(hours=1):%H:%M}-{local + timedelta(hours=2):%H:%M}"
    with HttpReceiver(secret=SECRET) as hook:
        entries = hook_entry(hook.url(), extra=f'quiet_hours = "{window}"\n')
        with serving(tmp_path, database_url, entries) as srv, srv.client() as operator:
            approval = ask_approval(operator)
            raise_p0(operator)
            wait_until(lambda: hook.received, "the P0 goes out in quiet hours")
            time.sleep(1.5)  # three dispatcher ticks: an approval not held would have gone too
            assert [r.json()["kind"] for r in hook.received] == ["p0"]
            (held,) = [d for d in overview(operator)["deliveries"] if d["kind"] == "approvals"]
            assert held["status"] == "held", "held, not dropped"
            assert datetime.fromisoformat(held["next_attempt_at"]) > datetime.now(UTC)

            # The quiet hours end: what the database holds once their end has passed.
            engine = create_engine(database_url)
            with engine.begin() as conn:
                conn.execute(
                    update(tables.notify_deliveries)
                    .where(tables.notify_deliveries.c.id == held["id"])
                    .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
                )
            engine.dispose()
            wait_until(lambda: len(hook.received) == 2, "the held approval goes out after")
            assert hook.received[1].json()["link"] == f"{srv.url}/#/inbox?approval={approval}"


def test_a_failing_channel_is_retried_shown_failing_then_recovers_and_delivers_once(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}"
    with HttpReceiver(secret=SECRET) as hook:
        hook.state.status = 503  # the receiver is down
        with serving(tmp_path, database_url, hook_entry(hook.url())) as srv, srv.client() as op:
            raise_p0(op)
            wait_until(lambda: hook.state.refused >= 3, "retried with backoff", seconds=20)
            channel = channel_of(op, "owner-hook")
            assert channel["status"] == "failing"
            assert "answered 503" in channel["error"]
            assert channel["failing_since"] is not None
            failed = op.get("/api/v1/events", params={"types": "notify.failed"}).json()["events"]
            attempts = [e["data"]["attempts"] for e in failed]
            assert attempts[:3] == [1, 2, 3], "each attempt is on the record"

            hook.state.status = 200
            wait_until(lambda: hook.received, "delivered once the receiver is back", seconds=20)
            wait_until(lambda: channel_of(op, "owner-hook")["status"] == "ok", "recovered")
            recovered = op.get("/api/v1/events", params={"types": "notify.recovered"})
            assert len(recovered.json()["events"]) == 1
            time.sleep(1.5)  # a few more ticks: nothing is sent again
            assert len(hook.received) == 1


def test_nothing_is_sent_twice_across_a_restart(tmp_path: Path) -> None:
    database_url = f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}"
    with HttpReceiver(secret=SECRET) as hook:
        with serving(tmp_path, database_url, hook_entry(hook.url())) as srv:
            with srv.client() as op:
                raise_p0(op, "first")
                ask_approval(op, "first approval")
                wait_until(lambda: len(hook.received) == 2, "the first two arrive")
                hook.state.status = 503  # down: the next one waits, retried, when we kill
                raise_p0(op, "second")
                wait_until(lambda: hook.state.refused >= 1, "the second is being retried")
            srv.kill()
            hook.state.status = 200
            srv.start()
            with srv.client() as op:
                raise_p0(op, "third")
                wait_until(lambda: len(hook.received) >= 4, "the waiting one and the new one")
                time.sleep(1.5)  # more ticks: none is sent again
        ids = [r.headers["X-MCOS-Delivery"] for r in hook.received]
        assert len(ids) == len(set(ids)) == 4, ids
        p0s = [r.json()["subject"] for r in hook.received if r.json()["kind"] == "p0"]
        titles = sorted(subject.split(": ", 1)[1].split(" — ")[0] for subject in p0s)
        assert titles == ["first", "second", "third"], "each P0 arrived exactly once"
        assert [r.json()["kind"] for r in hook.received].count("approvals") == 1


def test_a_test_send_answers_whether_it_arrived(tmp_path: Path) -> None:
    database_url = f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}"
    with HttpReceiver(telegram_token="123:ABC") as bot:
        entry = f"""
[[notify]]
name = "owner-telegram"
kind = "telegram"
token_env = "NOTIFY_TG_TOKEN"
chat_id = "42"
api_url = "{bot.url("")}"
carries = ["p0"]
"""
        with serving(tmp_path, database_url, entry) as srv, srv.client() as op:
            answer = op.post("/api/v1/notify/owner-telegram/test")
            assert answer.status_code == 200
            assert answer.json()["ok"] is False, "NOTIFY_TG_TOKEN is not set for this server"
            assert "NOTIFY_TG_TOKEN is not set" in answer.json()["error"]
            assert channel_of(op, "owner-telegram")["status"] == "failing"

            unknown = op.post("/api/v1/notify/nobody/test")
            assert unknown.status_code == 404 and error_of(unknown)["field"] == "name"
            bad = op.post("/api/v1/notify/Not_A_Name/test")
            assert bad.status_code == 422 and error_of(bad)["field"] == "name"
            with srv.agent("donna") as donna:
                assert donna.get("/api/v1/notify").status_code == 403
                assert donna.post("/api/v1/notify/owner-telegram/test").status_code == 403
            assert bot.received == []

        srv.env["NOTIFY_TG_TOKEN"] = "123:ABC"
        srv.start()
        with srv.client() as op:
            answer = op.post("/api/v1/notify/owner-telegram/test")
            assert answer.json()["ok"] is True, answer.text
            (got,) = bot.received
            assert "test" in got.json()["text"]
            assert channel_of(op, "owner-telegram")["status"] == "ok", "a working test recovers"
        srv.stop()


@pytest.mark.parametrize("carries", ['["budget"]'])
def test_a_channel_carries_only_what_it_lists(tmp_path: Path, carries: str) -> None:
    database_url = f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}"
    with HttpReceiver(secret=SECRET) as hook:
        with serving(tmp_path, database_url, hook_entry(hook.url(), carries=carries)) as srv:
            with srv.client() as op:
                raise_p0(op)
                ask_approval(op)
                time.sleep(1.5)
                assert hook.received == [], "neither a P0 nor an approval is carried"
