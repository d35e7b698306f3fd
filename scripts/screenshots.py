"""Screenshots of the dashboard's main views, for the README: docs/screenshots/*.png.

Run from the repository root with the project's virtualenv:

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--keep]

It writes the seed fleet with ``mcos init`` into a temporary folder, serves it on SQLite, and fills
it with a plausible working day through the API, as agents and the operator would: heartbeats
with context gauges, tasks across the board, messages and directives, LLM calls, memory notes,
policy denials, a cooldown, one payment waiting for approval and one unconfirmed P0 incident.
A day cannot pass in a minute, so the script then dates things back in the database while the
server is stopped, keeping their order: LLM calls over the last 20 hours (the hourly chart gets a
shape), messages over the morning, each agent's heartbeats about 40 minutes apart (its gauge
history), and three agents' last heartbeats 25 minutes and 2 hours back (stalled and offline, as
some always are). Then Debian's Chromium (``/usr/bin/chromium``, never a
downloaded browser) opens each view at 1440x900 and saves it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect, sync_playwright

from mcos.testing.chromium import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HEARTBEATS = 10  # per agent, about 40 minutes apart once dated back
STALLED = ("forge", "scout")
OFFLINE = ("claw",)
# (agent, status, context tokens, note)
DAY: list[tuple[str, str, int, str]] = [
    ("jarvis", "working", 142_000, "morning briefing: routing today's directives"),
    ("donna", "working", 96_000, "triaging 4 inboxes: 63 new, 7 need a reply"),
    ("apex", "working", 58_000, "drafting the Durbanville wayleave agreement"),
    ("vega", "working", 121_000, "month-end: reconciling the fibre debit orders"),
    ("elon", "working", 181_000, "patching the velo reverse proxy"),
    ("gene", "idle", 34_000, "waiting on the splice crew's report"),
    ("flow", "working", 88_000, "FibreFlow: fixing the install-date filter"),
    ("atlas", "working", 67_000, "competitor pricing for the Q3 fibre bundles"),
    ("sentinel", "working", 45_000, "reviewing yesterday's SSH logins"),
    ("pulse", "idle", 22_000, "pipeline updated"),
    ("scout", "working", 131_000, "qualifying leads from the Bellville billboard"),
    ("claw", "working", 40_000, "chasing overdue invoices"),
    ("ledger", "working", 76_000, "capturing supplier invoices"),
    ("vault", "idle", 15_000, "nothing due today"),
    ("nexus", "compacting", 176_500, "compacting after the route survey"),
    ("forge", "working", 99_000, "site diary for the Paarl build"),
    ("beacon", "working", 52_000, "billboard availability for June"),
    ("harper", "idle", 12_000, "leave requests answered"),
    ("cargo", "working", 61_000, "quotes for 2 km of 48-core cable"),
    ("echo", "working", 158_000, "support queue: 14 open tickets"),
    ("warden", "idle", 29_000, "POPIA register up to date"),
    ("muse", "working", 84_000, "June social posts for all five brands"),
    ("quill", "working", 47_000, "minutes of the exec committee"),
]
# (title, priority, assignee, moves)
TASKS: list[tuple[str, str, str | None, list[str]]] = [
    ("Renew the Velocity Fibre backhaul contract", "high", None, []),
    ("Answer the municipality about the Durbanville trench permit", "urgent", None, []),
    ("Quote for the Stellenbosch estate rollout", "normal", None, []),
    ("Draft the wayleave agreement for Durbanville", "high", "apex", ["in_progress"]),
    ("Reconcile May debit orders", "high", "vega", ["in_progress"]),
    ("Patch the velo reverse proxy (CVE-2026-1142)", "urgent", "elon", ["in_progress"]),
    ("Fix the install-date filter in FibreFlow", "normal", "flow", ["in_progress", "review"]),
    ("Q3 bundle pricing research", "normal", "atlas", ["in_progress", "review"]),
    ("June social calendar", "low", "muse", []),
    ("Chase the 12 overdue fibre invoices", "high", "claw", []),
    ("Book the splice crew for Paarl", "normal", "gene", ["blocked"]),
    ("Order 2 km of 48-core cable", "normal", "cargo", ["in_progress"]),
    ("Morning briefing for the operator", "normal", "jarvis", ["in_progress", "review", "done"]),
    ("File the CIPC annual return", "normal", "warden", ["in_progress", "review", "done"]),
    ("Minutes of Monday's exec committee", "low", "quill", ["in_progress", "review", "done"]),
    ("Reply to the Bellville billboard lead", "normal", "scout", ["in_progress", "review", "done"]),
    ("Inbox digest for the operator", "normal", "donna", ["in_progress", "review", "done"]),
    ("NDA with the Paarl splice contractor", "high", "apex", ["in_progress", "review", "done"]),
    ("Restart the crashed RADIUS service", "urgent", "elon", ["in_progress", "review", "done"]),
]
# Kinds of work the value ledger credits (the template's [[value_ledger]]).
KINDS = {
    "Inbox digest for the operator": "email-triage",
    "NDA with the Paarl splice contractor": "legal-document",
    "Restart the crashed RADIUS service": "infrastructure-incident",
}
# (sender, audience, kind, body)
MESSAGES: list[tuple[str, dict[str, Any], str, str]] = [
    ("jarvis", {"fleet": True}, "report", "Good morning. Board pack due Friday; P1s go to me."),
    ("jarvis", {"to": "donna"}, "directive", "Send the landlord the signed lease addendum today."),
    ("jarvis", {"to": "vega"}, "directive", "Close May's debit orders before the bank cut-off."),
    ("donna", {"to": "jarvis"}, "report", "Addendum sent; the landlord confirmed receipt."),
    ("apex", {"channel": "legal"}, "question", "Who signs the Durbanville wayleave: Gene or you?"),
    ("jarvis", {"channel": "legal"}, "chat", "The operator signs; send it to Donna for routing."),
    ("elon", {"channel": "engineering"}, "report", "Proxy patched on staging; prod at 14:00."),
    ("sentinel", {"channel": "security"}, "report", "3 failed SSH logins from one IP; blocked."),
    ("jarvis", {"to": "elon"}, "directive", "Hold the prod deploy until Sentinel signs off."),
    ("cargo", {"channel": "ops"}, "question", "Two cable quotes in; the cheaper one is 3 weeks."),
    ("gene", {"channel": "ops"}, "chat", "Take the faster one; Paarl cannot wait."),
    ("echo", {"channel": "ops"}, "report", "Durbanville: 41 tickets about the outage so far."),
    ("vega", {"channel": "revenue"}, "report", "May collections at 94%; 12 invoices overdue."),
    ("jarvis", {"to": "claw"}, "directive", "Chase the overdue invoices; be polite, cite terms."),
    ("quill", {"channel": "exec-committee"}, "report", "Monday's minutes are on the drive."),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Serve:
    """``mcos serve`` on a fixed port, stopped and started again on the same database."""

    def __init__(self, fleet: Path, env: dict[str, str]) -> None:
        self.fleet, self.env = fleet, env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        port = str(self.port)
        with (self.fleet / "serve.log").open("ab") as log:
            self.process = subprocess.Popen(
                [PYTHON, "-m", "mcos", "serve", "--fleet", str(self.fleet), "--port", port],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit((self.fleet / "serve.log").read_text())
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.url + "/api/v1/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise SystemExit("mcos serve did not answer:\n" + (self.fleet / "serve.log").read_text())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


@contextlib.contextmanager
def clients(url: str, operator_token: str) -> Iterator[dict[str, httpx.Client]]:
    """The operator's client (key ``operator``) and one per agent, with its own token."""
    made: dict[str, httpx.Client] = {
        "operator": httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {operator_token}"}, timeout=30
        )
    }
    try:
        for name, *_ in DAY:
            issued = made["operator"].post(f"/api/v1/agents/{name}/tokens", json={})
            issued.raise_for_status()
            token = issued.json()["token"]
            made[name] = httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
            )
        yield made
    finally:
        for client in made.values():
            client.close()


def ok(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        raise SystemExit(f"{response.request.method} {response.request.url}: {response.text}")
    body: dict[str, Any] = response.json() if response.content else {}
    return body


def fill_the_day(c: dict[str, httpx.Client]) -> None:
    rng = random.Random(2026)
    operator = c["operator"]
    task_ids: dict[str, int] = {}
    for title, priority, assignee, moves in TASKS:
        body: dict[str, Any] = {"title": title, "priority": priority}
        if title in KINDS:
            body["kind"] = KINDS[title]
        if assignee:
            body["assignee"] = assignee
        task = ok(operator.post("/api/v1/tasks", json=body))
        task_ids[title] = task["id"]
        for status in moves:
            mover = c[assignee] if assignee and status != "blocked" else operator
            ok(mover.post(f"/api/v1/tasks/{task['id']}/move", json={"status": status}))
    ok(
        c["flow"].post(
            f"/api/v1/tasks/{task_ids['Fix the install-date filter in FibreFlow']}/comments",
            json={"body": "Fixed; the filter compared dates as strings. Ready for review."},
        )
    )
    current = {
        assignee: task_ids[title]
        for title, _, assignee, moves in TASKS
        if assignee and "done" not in moves
    }

    # Every agent checks in a few times, its context growing, then once more as it is now.
    for name, status, tokens, note in DAY:
        for step in range(HEARTBEATS - 1):
            earlier = max(2_000, tokens - (HEARTBEATS - 1 - step) * rng.randrange(4_000, 12_000))
            ok(
                c[name].post(
                    f"/api/v1/agents/{name}/heartbeat",
                    json={"status": "working", "context_tokens": earlier},
                )
            )
        body = {"status": status, "context_tokens": tokens, "note": note}
        if name in current and status == "working":
            body["current_task"] = current[name]
        ok(c[name].post(f"/api/v1/agents/{name}/heartbeat", json=body))

    for sender, audience, kind, text in MESSAGES:
        ok(c[sender].post("/api/v1/messages", json=audience | {"kind": kind, "body": text}))

    for name, *_ in DAY:
        for _ in range(rng.randrange(3, 9)):  # well inside each agent's daily token budget
            ok(
                c[name].post(
                    f"/api/v1/agents/{name}/usage",
                    json={
                        "input_tokens": rng.randrange(2_000, 12_000),
                        "output_tokens": rng.randrange(200, 1_500),
                        "cache_read_tokens": rng.randrange(0, 8_000),
                        "latency_ms": rng.randrange(600, 9_000),
                    },
                )
            )

    for name, content in [
        ("jarvis", "Operator prefers the briefing as 5 bullets, money first."),
        ("jarvis", "Durbanville outage: Echo has the ticket count; Elon owns the fix."),
        ("elon", "Proxy patch: staging OK at 09:40; prod deploy waits for Sentinel."),
        ("vega", "Bank cut-off for debit orders is 15:00 on the 28th."),
    ]:
        ok(c[name].post(f"/api/v1/agents/{name}/memory", json={"content": content}))

    # What the guardrails stopped today.
    c["flow"].post(
        "/api/v1/actions",
        json={"kind": "file.write", "paths": ["/srv/fibreflow/production/settings.py"]},
    )
    c["flow"].post("/api/v1/actions", json={"kind": "shell.exec", "command": "systemctl restart"})
    c["quill"].post("/api/v1/actions", json={"kind": "http.fetch", "host": "pastebin.com"})
    ok(c["muse"].post("/api/v1/agents/muse/cooldown", json={"retry_after_seconds": 1_800}))

    # What waits for the operator.
    payment = {
        "kind": "payment.send",
        "amount_usd": 1_250.0,
        "recipient": "accounts@splicetech.co.za",
        "reason": "48 fibre splice kits for the Paarl build",
    }
    ok(c["vega"].post("/api/v1/actions", json=payment))
    ok(
        c["echo"].post(
            "/api/v1/incidents",
            json={
                "severity": "P0",
                "title": "Fibre cut in Durbanville: 340 customers offline",
                "body": "41 tickets since 07:10; the splice crew suspects roadworks on Wellington "
                "Road. ETA unknown.",
            },
        )
    )


def date_back(db: Path) -> None:
    """Spread the day over the last hours, in the order it happened; stall and drop some agents."""
    rng = random.Random(7)
    now = datetime.now(UTC).replace(tzinfo=None)

    def stamp(ago: timedelta) -> str:
        return (now - ago).strftime("%Y-%m-%d %H:%M:%S.%f")

    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        for name, *_ in DAY:
            calls = [
                row_id
                for (row_id,) in conn.execute(
                    "SELECT id FROM usage WHERE agent = ? ORDER BY id", (name,)
                )
            ]
            ages = sorted((rng.triangular(5, 20 * 60, 2 * 60) for _ in calls), reverse=True)
            for row_id, minutes in zip(calls, ages, strict=True):
                ago = timedelta(minutes=minutes)
                conn.execute("UPDATE usage SET ts = ? WHERE id = ?", (stamp(ago), row_id))
        sent = [row_id for (row_id,) in conn.execute("SELECT id FROM messages ORDER BY id")]
        for n, row_id in enumerate(sent):
            ago = timedelta(minutes=(len(sent) - n) * 9 + rng.randrange(0, 5))
            conn.execute("UPDATE messages SET ts = ? WHERE id = ?", (stamp(ago), row_id))
        for name, *_ in DAY:
            silent = (
                timedelta(minutes=25)
                if name in STALLED
                else timedelta(hours=2)
                if name in OFFLINE
                else timedelta(seconds=rng.randrange(5, 200))
            )
            beats = conn.execute(
                "SELECT seq FROM events WHERE type = 'agent.heartbeat' AND subject = ? "
                "ORDER BY seq",
                (f"agent:{name}",),
            ).fetchall()
            for n, (seq,) in enumerate(beats):
                ago = silent + timedelta(minutes=(len(beats) - 1 - n) * 40)
                conn.execute("UPDATE events SET ts = ? WHERE seq = ?", (stamp(ago), seq))
            conn.execute(
                "UPDATE agents SET last_heartbeat_at = ? WHERE name = ?", (stamp(silent), name)
            )


def shoot(page: Page, out: Path, name: str) -> None:
    page.evaluate("document.fonts.ready")
    page.screenshot(path=out / f"{name}.png")
    print(f"wrote {out / name}.png")


def screenshots(url: str, token: str, out: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            base_url=url,
            viewport={"width": 1440, "height": 900},
            color_scheme="dark",
            timezone_id="Africa/Johannesburg",  # the seed fleet's, as its operator sees it
        )
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.goto("/")
        expect(page.locator("#signin")).to_be_visible()
        shoot(page, out, "signin")

        page.locator("#token").fill(token)
        page.locator("#signin [type=submit]").click()
        body = page.locator("body")
        expect(body).to_have_attribute("data-ready", "1")
        expect(body).to_have_attribute("data-stream", "live")
        views = [
            ("fleet", "#/fleet", '[data-agent="jarvis"]'),
            ("board", "#/board", '[data-column="inbox"] [data-task]'),
            ("messages", "#/messages", "[data-message]"),
            ("inbox", "#/inbox", "[data-approval]"),
            ("spend", "#/spend", "svg"),
            ("agent", "#/agents/jarvis", "svg"),
            ("brief", "#/brief", "[data-brief]"),
        ]
        for name, route, shown in views:
            page.goto("/" + route)
            expect(body).to_have_attribute("data-ready", "1")
            expect(page.locator(shown).first).to_be_visible()
            shoot(page, out, name)
        browser.close()


def wait_for_the_sweep(url: str, token: str) -> None:
    """Until the server has noticed the silences date_back made (its sweep runs every 5 s)."""
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
        while time.monotonic() < deadline:
            snapshot = client.get("/api/v1/dashboard/snapshot").json()
            if snapshot["health"]["heartbeats_missed_24h"] >= 3:
                return
            time.sleep(0.5)
    raise SystemExit("the server did not mark the silent agents stalled and offline in 30 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary fleet folder.")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="mcos-screenshots-"))
    fleet = folder / "fleet"
    db = folder / "mcos.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCOS_")}
    env |= {
        "XDG_CONFIG_HOME": str(folder / "config"),
        "MCOS_DATABASE_URL": f"sqlite+pysqlite:///{db}",
    }
    try:
        subprocess.run(
            [PYTHON, "-m", "mcos", "init", str(fleet)], env=env, check=True, capture_output=True
        )
        token = (fleet / ".mcos" / "operator.token").read_text().strip()
        server = Serve(fleet, env)
        server.start()
        try:
            with clients(server.url, token) as c:
                fill_the_day(c)
            server.stop()
            date_back(db)
            server.start()
            wait_for_the_sweep(server.url, token)
            screenshots(server.url, token, args.out)
        finally:
            server.stop()
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
