"""``mcos demo``: the seed's fleet alive, its day played, its four failures stopped in view.

One real ``mcos demo`` process (its own ``mcos serve``, the real runner with all 23 agents on
the simulated provider, and Nova's slot for an agent you bring, which it does not run) plays
the day at high speed; the test then reads what happened from the API, as an operator would,
and looks at the dashboard in a real browser.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from docx import Document
from openpyxl import load_workbook
from playwright.sync_api import Browser, expect
from pycel import ExcelCompiler

from mcos.demo.fibreflow import running_pid
from mcos.demo.fleet import EXTERNAL, EXTERNAL_TASK
from mcos.fleet.loader import load_fleet
from tests.fixtures.axe import SCHEMES, Finding, audit, report
from tests.fixtures.browser import VIEWPORT, sign_in, wait_until_ready
from tests.fixtures.server import free_port, mcos_env, run_mcos

DAY_SECONDS = 180


class Demo:
    def __init__(self, folder: Path, url: str, process: subprocess.Popen[str]) -> None:
        self.folder, self.url, self.process = folder, url, process

    @property
    def token(self) -> str:
        return (self.folder / ".mcos" / "operator.token").read_text().strip()

    def client(self, agent: str | None = None) -> httpx.Client:
        """As the operator, or as ``agent`` through its machine's runner token."""
        headers = {"Authorization": f"Bearer {self.token}"}
        if agent is not None:
            machine = next(a.machine for a in load_fleet(self.folder).agents if a.name == agent)
            runners = json.loads((self.folder / ".mcos/runner/demo/runner-tokens.json").read_text())
            headers = {"Authorization": f"Bearer {runners[machine]}", "X-MCOS-Agent": agent}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def events(self, types: str) -> list[dict[str, Any]]:
        with self.client() as api:
            found: list[dict[str, Any]] = api.get(
                "/api/v1/events", params={"types": types, "limit": 1000}
            ).json()["events"]
        return found


@contextlib.contextmanager
def played_day(base: Path) -> Iterator[Demo]:
    """The demo after its day is played (at 6000x: the day's 14 hours in about 9 s)."""
    port = free_port()
    folder = base / "fleet"
    process = subprocess.Popen(
        [sys.executable, "-m", "mcos", "demo", str(folder), "--port", str(port), "--speed", "6e3"],
        env=mcos_env(base),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    played = Demo(folder, f"http://127.0.0.1:{port}", process)
    try:
        deadline = time.monotonic() + DAY_SECONDS
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                scenes = played.events("demo.scene")
            except (httpx.TransportError, FileNotFoundError, ValueError):
                scenes = []
            if any(s["data"]["title"] == "The day ends" for s in scenes):
                break
            time.sleep(0.5)
        else:
            raise AssertionError("the demo's day did not end in time")
        yield played
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
        played.output = output  # type: ignore[attr-defined]
    assert process.returncode == 0, output
    assert not re.search(r"Traceback|ERROR", output), output


def check_the_fleet_is_alive_simulated_and_says_so(demo: Demo) -> None:
    with demo.client() as api:
        agents = api.get("/api/v1/agents").json()["agents"]
        health = api.get("/api/v1/health").json()
    driven = [a for a in agents if a["name"] != EXTERNAL]
    assert len(driven) == 23 and len(agents) == 24
    assert all(a["last_heartbeat_at"] is not None for a in driven)
    assert {a["provider"] for a in driven} == {"simulated"}
    # Nova is the slot for an agent you bring (tests/examples runs one as it): the demo never
    # runs it, and put a task on its card for it.
    [nova] = [a for a in agents if a["name"] == EXTERNAL]
    assert (nova["last_heartbeat_at"], nova["credential_env"]) == (None, "")
    with demo.client() as api:
        waiting = api.get("/api/v1/tasks", params={"assignee": EXTERNAL}).json()["tasks"]
    assert [(t["title"], t["status"]) for t in waiting] == [(EXTERNAL_TASK, "assigned")]
    assert health["fleet"] == "Specter Holdings (simulated demo)"
    fleet_file = (demo.folder / "fleet.toml").read_text()
    assert fleet_file.startswith("# SIMULATED DEMO fleet")
    scenes = demo.events("demo.scene")
    assert scenes and all(s["data"]["simulated"] is True for s in scenes)
    with demo.client("donna") as donna:  # no agent puts words in the operator's strip
        forged = donna.post("/api/v1/events", json={"type": "demo.scene", "data": {}})
    assert forged.status_code == 422 and forged.json()["error"]["field"] == "type"
    # Whatever the scripted model wrote that the operator reads says it is simulated (a
    # committee's directive quotes the title Jarvis's model gave it).
    # A flag to Jarvis is the control plane's own words, sent for Donna, and an action's approval
    # gives the runtime's reason (its task): neither is the model's.
    flags = {e["data"]["message"] for e in demo.events("mail.flagged")}
    written = [
        e["data"]["body"]
        for e in demo.events("task.commented,message.sent")
        if e["actor"].startswith("agent:") and e["data"].get("id") not in flags
    ]
    # The service watch's incident is the control plane's words too (what its probe saw).
    watched = {e["data"]["incident"] for e in demo.events("service.down")}
    asked: set[int] = set()  # and so is the confirmation it asks of Jarvis
    with demo.client() as api:
        for incident in api.get("/api/v1/incidents").json()["incidents"]:
            if incident["id"] in watched:
                asked.add(incident["approval_id"])
            else:
                written += [incident["title"], incident["body"]]
        approvals = api.get("/api/v1/approvals").json()["approvals"]
        written += [
            a["reason"] for a in approvals if a["kind"] != "action" and a["id"] not in asked
        ]
    assert len(written) > 8 and all("(simulated) " in w for w in written), written


def _outcomes(demo: Demo, title: str) -> list[str]:
    return [
        s["data"]["text"]
        for s in demo.events("demo.scene")
        if s["data"]["title"] == title and s["data"]["outcome"]
    ]


def check_the_four_failures_are_stopped_by_their_guardrails(demo: Demo) -> None:
    # 1. Flow's shell command is refused and recorded; its request for exec waits for a human.
    [refused] = [
        e
        for e in demo.events("policy.decided")
        if e["data"]["agent"] == "flow" and e["data"]["action"]["kind"] == "shell.exec"
    ]
    assert refused["data"]["outcome"] == "deny"
    with demo.client() as api:
        approvals = api.get("/api/v1/approvals").json()["approvals"]
    [asked] = [a for a in approvals if a["agent"] == "flow"]
    assert asked["status"] == "pending" and asked["waiting_for"] == ["human"]
    assert not (demo.folder / "workspaces/flow/node_modules").exists()
    told = _outcomes(demo, "Flow's exec refused")
    assert told[0].startswith("REFUSED") and refused["data"]["reason"] in told[0]
    # Its model said it was done; the task did not end done but blocked, with the refusal.
    with demo.client() as api:
        [ship] = [
            t
            for t in api.get("/api/v1/tasks").json()["tasks"]
            if t["title"] == "Ship the FibreFlow dashboard build to production"
        ]
        history = api.get(f"/api/v1/tasks/{ship['id']}").json()["history"]
    assert ship["status"] == "blocked"
    [blocked] = [h for h in history if h["type"] == "task.moved" and h["data"]["to"] == "blocked"]
    assert "run_shell: refused by policy" in blocked["data"]["reason"]
    assert any("is blocked with the refusal" in t for t in told)

    # 2. Sentinel's false P0 is held: unconfirmed, and unseen by agents who must not hear of it.
    with demo.client() as api:
        incidents = api.get("/api/v1/incidents").json()["incidents"]
    [p0] = [i for i in incidents if i["reporter"] == "sentinel"]
    [outage] = [i for i in incidents if i["reporter"] == "elon"]  # Elon's 03:00, a P1
    assert (p0["reporter"], p0["severity"], p0["status"]) == ("sentinel", "P0", "unconfirmed")
    with demo.client("donna") as donna, demo.client("jarvis") as jarvis:
        assert donna.get("/api/v1/incidents").json()["incidents"] == []
        # Jarvis confirms both (P0 with you, P1 alone); nobody else hears of either.
        seen = {i["id"] for i in jarvis.get("/api/v1/incidents").json()["incidents"]}
        assert seen == {p0["id"], outage["id"]}
    assert any(t.startswith("HELD") for t in _outcomes(demo, "Sentinel's false P0 held"))

    # 3. Pulse's one key cools down; a second, "failover" key is refused by the fleet loader.
    assert [e["subject"] for e in demo.events("agent.cooling_down")] == ["agent:pulse"]
    told = " ".join(_outcomes(demo, "A second key refused"))
    assert "failover_credential" in told and "exactly one credential" in told

    # 4. Jarvis's notes are flushed to memory before its context is compacted.
    [flushed] = demo.events("memory.flushed")
    [compacted] = demo.events("memory.compacted")
    assert flushed["seq"] < compacted["seq"] and flushed["subject"] == "agent:jarvis"
    notes = list((demo.folder / "workspaces/jarvis/memory").glob("*.md"))
    assert notes and "before compaction" in notes[0].read_text()
    assert any(
        t.startswith("FLUSHED FIRST") for t in _outcomes(demo, "Memory flushed before compaction")
    )


def check_supervision_nudges_then_reassigns_then_tells(demo: Demo) -> None:
    steps = [
        (e["type"], e["data"])
        for e in demo.events("supervision.*")
        if e["data"].get("agent") == "scout"
    ]
    assert [t for t, _ in steps] == [
        "supervision.nudged",
        "supervision.nudged",
        "supervision.reassigned",
        "supervision.escalated",
    ]
    peer = steps[2][1]["to"]
    with demo.client() as api:
        [task] = [
            t for t in api.get("/api/v1/tasks").json()["tasks"] if t["id"] in steps[2][1]["tasks"]
        ]
        roles = {a["name"]: a["role"] for a in api.get("/api/v1/agents").json()["agents"]}
    assert roles[peer] == "revenue" and peer != "scout"
    assert (task["assignee"], task["status"]) == (peer, "review")  # finished; yours to accept
    assert steps[3][1]["told"] == ["operator", "jarvis"]


def check_the_days_work_lands_and_mcos_brief_matches_the_api(demo: Demo) -> None:
    with demo.client() as api:
        tasks = {t["title"]: t for t in api.get("/api/v1/tasks").json()["tasks"]}
        roi = api.get("/api/v1/usage/roi").json()
    assert tasks["Outage: fibreflow-api is down on velo"]["status"] == "done"
    assert tasks["Inbox digest for today"]["status"] == "done"
    assert tasks["Draft the independent contractor agreement (R85k/month)"]["status"] == "review"
    variance = tasks["Variance analysis: Velocity Fibre cost per activation"]
    assert (variance["status"], variance["assignee"]) == ("done", "vega")
    # Legal mail is routed too (to Apex); the variance request is the one routed by Jarvis.
    [routed] = [e for e in demo.events("routing.decided") if "mail" not in e["data"]]
    assert routed["data"]["agent"] == "vega" and routed["data"]["explanation"]
    assert roi["today"]["tasks_credited"] == 2  # the outage and the digest; the draft waits

    # As the README says: in another terminal, `mcos ...` finds the demo that is running.
    listed = run_mcos("agents", "ls", env=mcos_env(demo.folder.parent)).stdout
    assert "scout" in listed and "jarvis" in listed
    env = mcos_env(demo.folder.parent) | {"MCOS_FLEET": str(demo.folder), "MCOS_URL": demo.url}

    # The committee: three agents gave their positions; the operator's vote decides it.
    with demo.client() as api:
        [committee] = api.get("/api/v1/committees").json()["committees"]
    given = {p["member"]: p["position"] for p in committee["positions"]}
    assert committee["status"] == "open" and committee["opened_by"] == "agent:jarvis"
    assert given == {"jarvis": "for", "apex": "for", "vega": "against"}
    waiting = json.loads(run_mcos("brief", "--json", env=env).stdout)["waiting"]
    assert [(c["id"], c["waiting_for"]) for c in waiting["committees"]] == [
        (committee["id"], ["human"])
    ]
    voted = run_mcos(
        "committees", "vote", str(committee["id"]), "for", "--reasons", "sign it", env=env
    )
    assert "approved" in voted.stdout
    minutes = run_mcos("committees", "show", str(committee["id"]), env=env).stdout
    assert "(simulated) Affordable only if" in minutes and "sign it" in minutes
    # The fleet is still running (heartbeats, Jarvis answering messages), so spend may grow
    # while we look: the briefing's figures lie between two reads of the API around it.
    with demo.client() as api:
        before = api.get("/api/v1/usage").json()
        brief = json.loads(run_mcos("brief", "--json", env=env).stdout)
        after = api.get("/api/v1/usage").json()
        tasks_now = api.get("/api/v1/tasks").json()["tasks"]
        incidents = api.get("/api/v1/incidents").json()["incidents"]
    spent = brief["spend"]["usage"]
    assert before["today_usd"] <= spent["today_usd"] <= after["today_usd"]

    def daily(usage: dict[str, Any]) -> dict[str, float]:
        return {a["agent"]: a["spent"]["daily_usd"] for a in usage["agents"]}

    low, mid, high = daily(before), daily(spent), daily(after)
    assert set(mid) == set(low) and len(mid) == 24  # the 23, and Nova (nothing spent)
    assert all(low[name] <= mid[name] <= high[name] for name in mid)
    assert mid["elon"] == low["elon"] > 0  # Elon's day was over: his spend is settled
    value = brief["value"]["today"]
    for key in ("tasks_credited", "hours_saved", "value_usd", "kinds"):
        assert value[key] == roi["today"][key], key
    # spend_usd is rounded to the micro-dollar; the usage totals are not.
    assert before["today_usd"] - 1e-6 <= value["spend_usd"] <= after["today_usd"] + 1e-6
    done = sorted(t["id"] for t in tasks_now if t["status"] == "done")
    assert sorted(t["id"] for t in brief["work"]["done"]) == done
    assert sorted(i["id"] for i in brief["incidents"]) == sorted(i["id"] for i in incidents)
    assert sorted(i["id"] for i in brief["waiting"]["incidents"]) == sorted(
        i["id"] for i in incidents if i["status"] == "unconfirmed"
    )
    # The Markdown `mcos brief` prints is the same data, written out.
    text = brief["markdown"]
    assert f"## Work done ({len(done)})" in text
    assert f"today: ${spent['today_usd']:,.2f}" in text
    assert brief["written"]["by"] == "jarvis" and text.startswith("# From Jarvis")
    printed = run_mcos("brief", env=env).stdout
    assert printed.startswith("# From Jarvis") and f"## Work done ({len(done)})" in printed


def check_donnas_mail_is_read_for_real_and_her_reply_leaves_once_approved(demo: Demo) -> None:
    from mcos.demo.mail import one_day

    sample = one_day()
    with demo.client() as api:
        accounts = api.get("/api/v1/mail/accounts").json()["accounts"]
        mail = api.get("/api/v1/mail/messages?limit=1000").json()["messages"]
        [digest] = api.get("/api/v1/mail/digests").json()["digests"]
        pending = api.get("/api/v1/approvals?status=pending").json()["approvals"]
    # Every mail of the sample's day, read from the demo's Dovecot through IMAP, stored once.
    assert len(accounts) == 5 and all(a["failing_since"] is None for a in accounts)
    assert len(mail) == len(sample)
    assert sorted(m["subject"] for m in mail) == sorted(s.item().subject for s in sample)
    counts = digest["counts"]
    assert sum(counts[c] for c in ("operator", "jarvis", "handled", "later")) == len(sample)
    assert counts["untriaged"] == 0 and counts["jarvis"] > 0
    assert "## Needs you today" in digest["markdown"] and "/#/mail/" in digest["markdown"]
    # The reply waits for the operator; nothing was sent. Approved, it leaves once.
    [send] = [a for a in pending if a["subject"].get("kind") == "email.send"]
    assert send["mail"]["body"].startswith("(simulated) Thank you")
    sent_folder = demo.folder / "sent-mail"
    assert not sent_folder.exists() or not list(sent_folder.iterdir())
    with demo.client() as api:
        assert api.post(f"/api/v1/approvals/{send['id']}/approve", json={}).status_code == 200
    deadline = time.monotonic() + 60
    while not demo.events("mail.sent") and time.monotonic() < deadline:
        time.sleep(0.2)
    [sent] = demo.events("mail.sent")
    assert sent["data"]["to"] == send["mail"]["to"]
    [kept] = list(sent_folder.iterdir())
    assert b"(simulated) Thank you" in kept.read_bytes()


def check_the_dashboard_shows_the_simulation_and_what_waits(demo: Demo, browser: Browser) -> None:
    page = browser.new_page()
    page.goto(demo.url + "/")
    page.fill("#token", demo.token)
    page.click("button[type=submit]")
    expect(page.locator("#demo-strip")).to_contain_text("SIMULATED")
    expect(page.locator("#demo-strip")).to_contain_text("End of the simulated day")
    expect(page.locator(".card")).to_have_count(24)  # the 23, and Nova's slot
    page.goto(demo.url + "/#/inbox")
    expect(page.locator("#view")).to_contain_text("(simulated) Fleet under attack")
    # Supervision told the operator about Scout: it waits in the inbox until Scout is back.
    expect(page.locator("[data-silent=scout]")).to_contain_text("went to")
    expect(page.locator("#view")).to_contain_text("exec")


def _files(demo: Demo, title: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    with demo.client() as api:
        [task] = [t for t in api.get("/api/v1/tasks").json()["tasks"] if t["title"] == title]
        listed = api.get(f"/api/v1/tasks/{task['id']}/artifacts").json()["artifacts"]
    return task, listed


def _download(demo: Demo, artifact: dict[str, Any]) -> bytes:
    with demo.client() as api:
        got = api.get(f"/api/v1/tasks/{artifact['task_id']}/artifacts/{artifact['id']}/content")
    assert got.status_code == 200, got.text
    return got.content


def check_vegas_workbook_is_real_with_live_formulas(demo: Demo, scratch: Path) -> None:
    from mcos.finance.sample import generate

    task, [workbook] = _files(demo, "Variance analysis: Velocity Fibre cost per activation")
    assert (task["status"], task["assignee"]) == ("done", "vega")
    assert (
        workbook["name"] == "velocity-fibre-h1-2026.xlsx" and workbook["created_by"] == "agent:vega"
    )
    assert workbook["opened_by"] == ["operator:operator"]  # the director read it before accepting
    scratch.mkdir(exist_ok=True)
    output = scratch / workbook["name"]
    output.write_bytes(_download(demo, workbook))
    book = load_workbook(output)
    assert book.sheetnames == ["Summary", "Variance", "Cost per unit", "Findings"]
    assert book["Variance"]["E2"].value == "=D2-C2"  # a formula, not a number
    planted = generate(scratch / "sample").planted  # the same sample the demo wrote
    found = [(r[3], r[2], r[4]) for r in book["Findings"].iter_rows(min_row=2, values_only=True)]
    assert sorted(found) == sorted((p.check, p.kind, p.key) for p in planted)
    evaluate = ExcelCompiler(filename=str(output)).evaluate
    actual = sum(
        r[3]
        for r in book["Variance"].iter_rows(min_row=2, values_only=True)
        if len(r) > 3 and isinstance(r[1], str) and isinstance(r[3], (int, float))
    )
    assert evaluate("Summary!B4") == pytest.approx(actual)
    told = " ".join(_outcomes(demo, "Vega's variance analysis"))
    assert f"{len(planted)} findings" in told and "velocity-fibre-h1-2026.xlsx v1" in told
    [note] = [
        e["data"]["body"]
        for e in demo.events("task.commented")
        if e["data"].get("task") == task["id"] and "The analysis lists" in e["data"]["body"]
    ]
    assert note.startswith(f"(simulated) The analysis lists {len(planted)} findings")


def check_elons_service_went_down_and_came_back(demo: Demo) -> None:
    with demo.client() as api:
        [service] = [
            s
            for s in api.get("/api/v1/services").json()["services"]
            if s["name"] == "fibreflow-api"
        ]
        incidents = {i["id"]: i for i in api.get("/api/v1/incidents").json()["incidents"]}
    assert (service["machine"], service["owner"], service["state"]) == ("velo", "elon", "up")
    assert (service["outages"], service["outages_stopped"]) == (1, 1)
    assert service["downtime_seconds"] > 0
    # The real service answers again (the one the runbook's restart started).
    assert httpx.get(service["target"], timeout=5).json()["status"] == "ok"
    # Velo's runner reported it (the control plane takes a service's reports from its
    # machine's runner only), for Elon; then Elon's restart, allowed by the runbook's policy.
    [down] = demo.events("service.down")
    [remedied] = demo.events("service.remediated")
    up = [e for e in demo.events("service.up") if e["data"].get("outage") == down["data"]["outage"]]
    assert [e["actor"] for e in (down, remedied, *up)] == ["agent:elon"] * 3
    assert (remedied["data"]["by"], remedied["data"]["ok"]) == ("agent", True)
    assert up[0]["data"]["recovered_by"] == "agent" and up[0]["data"]["downtime_seconds"] > 0
    [restart] = [
        e
        for e in demo.events("policy.decided")
        if e["data"]["agent"] == "elon" and e["data"]["action"]["kind"] == "service.restart"
    ]
    assert restart["data"]["outcome"] == "allow"
    incident = incidents[down["data"]["incident"]]
    assert (incident["severity"], incident["reporter"]) == ("P1", "elon")
    assert "recovered by agent" in incident["resolution"]
    # The task the outage opened, with the diagnosis the runner ran as it went down.
    task, [diagnosis] = _files(demo, "Outage: fibreflow-api is down on velo")
    assert (task["id"], task["assignee"], task["status"]) == (down["data"]["task"], "elon", "done")
    assert diagnosis["name"] == "diagnosis.txt" and "agent:elon" in diagnosis["opened_by"]
    text = _download(demo, diagnosis).decode()
    assert "fibreflow-api: process not running" in text, text
    assert "kills pid" in text and "(SIGKILL)" in text, text
    told = " ".join(_outcomes(demo, "Elon fixes a crashed service at 3 a.m."))
    assert "s of downtime" in told and "restart_service" in told


def check_apexs_contract_opens_with_the_right_parties(demo: Demo) -> None:
    task, drafts = _files(demo, "Draft the independent contractor agreement (R85k/month)")
    assert (task["status"], task["assignee"]) == ("review", "apex")  # v2 waits for you
    assert sorted(a["version"] for a in drafts) == [1, 2]
    assert {a["name"] for a in drafts} == {
        "independent-contractor-agreement-velocity-fibre-mokoena-splicing.docx"
    }
    assert {a["created_by"] for a in drafts} == {"agent:apex"}
    with demo.client() as api:
        companies = {c["key"]: c for c in api.get("/api/v1/registry").json()["companies"]}
    texts = {}
    for artifact in drafts:
        document = Document(io.BytesIO(_download(demo, artifact)))
        texts[artifact["version"]] = "\n".join(p.text for p in document.paragraphs)
    for text in texts.values():
        # The parties and their signature blocks, as the registry has them.
        for number, key in enumerate(("velocity-fibre", "mokoena-splicing"), start=1):
            company = companies[key]
            party = f"1.{number}\t{company['legal_name']}, registration number "
            assert party + company["registration_number"] in text
            for signatory in company["signatories"]:
                block = (
                    f"For and on behalf of: {company['legal_name']}\n{'_' * 36}\n"
                    f"Name: {signatory['full_name']}\nCapacity: {signatory['capacity']}\n"
                )
                assert block in text, block
        assert "the monthly fee of R85 000.00 (eighty-five thousand rand)" in text
    # The operator's two changes, in v2 only.
    assert "30 (thirty) days' written notice" in texts[1]
    assert "60 (sixty) days' written notice" in texts[2]
    assert "valid invoice within 14 (fourteen) days" in texts[2]
    drafted = [e for e in demo.events("legal.drafted") if e["data"]["task"] == task["id"]]
    assert [e["data"]["version"] for e in drafted] == [1, 2]
    told = " ".join(_outcomes(demo, "Apex drafts a contract for review"))
    assert "v2 (Velocity Fibre (Pty) Ltd (2019/407215/07)" in told and "notice 60 days" in told


def check_every_view_passes_axe_in_both_colour_schemes(demo: Demo, browser: Browser) -> None:
    """The day as an operator sees it: 23 agents, the mail, the incidents, files on cards."""
    task, _ = _files(demo, "Variance analysis: Velocity Fibre cost per activation")
    findings: list[Finding] = []
    for scheme in SCHEMES:
        context = browser.new_context(
            base_url=demo.url, viewport=VIEWPORT, color_scheme=scheme, reduced_motion="reduce"
        )
        context.set_default_timeout(10_000)
        page = context.new_page()
        sign_in(page, demo.token)
        wait_until_ready(page)
        findings += audit(page, {"task": task["id"], "agent": "donna"}, scheme)
        context.close()
    assert findings == [], report(findings)


@pytest.mark.timeout(300)  # the day takes a minute or two to play on a busy machine
def test_mcos_demo_plays_the_seeds_day_in_front_of_the_operator(
    tmp_path: Path, browser: Browser
) -> None:
    # One test, not four: the demo is one process that takes a while to set up.
    with played_day(tmp_path) as demo:
        check_the_fleet_is_alive_simulated_and_says_so(demo)
        check_the_four_failures_are_stopped_by_their_guardrails(demo)
        check_the_days_work_lands_and_mcos_brief_matches_the_api(demo)
        check_supervision_nudges_then_reassigns_then_tells(demo)
        check_donnas_mail_is_read_for_real_and_her_reply_leaves_once_approved(demo)
        check_vegas_workbook_is_real_with_live_formulas(demo, tmp_path / "vega")
        check_elons_service_went_down_and_came_back(demo)
        check_apexs_contract_opens_with_the_right_parties(demo)
        check_the_dashboard_shows_the_simulation_and_what_waits(demo, browser)
        check_every_view_passes_axe_in_both_colour_schemes(demo, browser)
    # The demo stopped FibreFlow's stand-in as it exited (the instance Elon's restart started).
    assert running_pid(tmp_path / "fleet" / "services" / "fibreflow-api") is None
