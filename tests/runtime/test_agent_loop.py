"""The agent loop end to end: the seed's agents on a real control plane, the model a wire-level
fake driven through the official Anthropic SDK, the runner and its loops the real ones."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest

from mcos.client import outbox
from mcos.client.outbox import Outbox
from mcos.fleet.schema import Liveness
from mcos.runtime.client import AgentLink
from mcos.runtime.providers.simulated import Rule, Script, Step
from mcos.runtime.tools import TOOLS
from mcos.testing.fake_providers import FakeProviderServer
from tests.fixtures.runtime import make_runner, run_until, running, task_status
from tests.fixtures.server import Server
from tests.fixtures.web import WebServer


def create_task(srv: Server, title: str, assignee: str, description: str = "") -> int:
    with srv.client() as operator:
        response = operator.post(
            "/api/v1/tasks",
            json={"title": title, "assignee": assignee, "description": description},
        )
        assert response.status_code == 201, response.text
        task_id: int = response.json()["id"]
        return task_id


def run(srv: Server, names: list[str], check: object, **kwargs: object) -> None:
    runner = make_runner(srv, names, **kwargs)  # type: ignore[arg-type]
    asyncio.run(run_until(runner, check, url=srv.url, token=srv.operator_token))  # type: ignore[arg-type]


def test_agents_pick_up_their_tasks_run_tools_and_finish_them(
    srv: Server, fake: FakeProviderServer
) -> None:
    digest = create_task(srv, "Inbox digest", "donna", "Summarise the 5 inboxes.")
    contract = create_task(srv, "Draft the supplier contract", "apex")
    # The operator gave Apex a soul of its own; Donna starts from the fleet's role template.
    own = "# {{name}}, {{title}} of {{company}}\n\nDraft, never sign.\n"
    (srv.fleet_dir / "souls" / "apex.md").write_text(own)
    fake.set_script(
        Script(
            [
                Rule(
                    key="key-donna",
                    contains="Inbox digest",
                    steps=(
                        Step.call("write_file", {"path": "digest.md", "content": "3 urgent"}),
                        Step.reply("Digest written: 3 urgent mails."),
                    ),
                )
            ]
        )
    )

    async def both_done(api: httpx.AsyncClient) -> bool:
        return {await task_status(api, digest), await task_status(api, contract)} == {"review"}

    run(srv, ["donna", "apex"], both_done)

    assert (srv.fleet_dir / "workspaces" / "donna" / "digest.md").read_text() == "3 urgent"
    assert (srv.fleet_dir / "workspaces" / "apex" / "SOUL.md").read_text() == (
        "# Apex, Legal & Protocol of Specter Holdings\n\nDraft, never sign.\n"
    )
    donnas = (srv.fleet_dir / "workspaces" / "donna" / "SOUL.md").read_text()
    assert donnas.startswith("# Donna\n\nYou are Donna, Communications (all 5 email accounts) at")
    assert "`write_digest`" in donnas and "{{" not in donnas
    with srv.client() as operator:
        history = operator.get(f"/api/v1/tasks/{digest}").json()
        comments = [h for h in history["history"] if h["type"] == "task.commented"]
        assert any("Digest written" in c["data"]["body"] for c in comments), history
        moves = [h["data"]["to"] for h in history["history"] if h["type"] == "task.moved"]
        assert moves == ["in_progress", "review"]
        decided = operator.get("/api/v1/events", params={"types": "policy.decided"}).json()
        writes = [e["data"] for e in decided["events"] if e["data"]["agent"] == "donna"]
        assert [(w["action"]["kind"], w["outcome"]) for w in writes] == [("file.write", "allow")]
        usage = {a["agent"]: a for a in operator.get("/api/v1/usage").json()["agents"]}
        assert usage["donna"]["spent"]["daily_tokens"] > 0
        assert usage["donna"]["spent"]["daily_usd"] > 0
    # Each agent used its own key, and was offered only the tools its capabilities allow.
    donna_calls = [r for r in fake.requests if r.key == "key-donna"]
    assert len(donna_calls) == 2
    assert {r.key for r in fake.requests} == {"key-donna", "key-apex"}
    assert "write_file" in donna_calls[0].tools and "run_shell" not in donna_calls[0].tools


def test_state_is_kept_after_the_reports_queued_before_it_and_before_a_tool_acts(
    srv: Server, fake: FakeProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model call's usage (and a card's move to in_progress) is queued and shares the commit
    of what follows; the agent's state, which holds the reply, is queued after it in the same
    outbox, so it is never on disk before that usage: a restart never resumes after a call
    whose usage was not kept. A tool acts only once all of it is on disk."""
    task = create_task(srv, "Inbox digest", "donna")
    fake.set_script(
        Script(
            [
                Rule(
                    key="key-donna",
                    steps=(
                        Step.call("write_file", {"path": "digest.md", "content": "3 urgent"}),
                        Step.reply("Digest written."),
                    ),
                )
            ]
        )
    )
    outbox_file = srv.fleet_dir / ".mcos" / "runner" / "test" / "outbox.db"
    seen_when_acting: list[tuple[int, int, bytes]] = []
    queue, keep = AgentLink.queue, Outbox.keep
    reports: list[str] = []
    queued_through: list[int] = []  # the last report seq given when the state was kept

    def queue_kept(link: AgentLink, method: str, path: str, body: dict[str, Any]) -> None:
        reports.append(path)
        queue(link, method, path, body)

    def keep_counted(box: Outbox, key: str, value: bytes) -> asyncio.Future[None]:
        queued_through.append(box._last_seq)
        return keep(box, key, value)

    def on_disk() -> tuple[int, bytes]:
        # What the outbox's file holds, read through a connection of its own.
        with contextlib.closing(sqlite3.connect(outbox_file)) as conn:
            (last,) = conn.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
            (state,) = conn.execute("SELECT value FROM kept WHERE key = 'state:donna'").fetchone()
        return int(last), bytes(state)

    write_file = TOOLS["write_file"].run

    async def write_checked(ctx: Any, args: Any) -> str:
        seen_when_acting.append((queued_through[-1], *on_disk()))
        return await write_file(ctx, args)

    monkeypatch.setattr(AgentLink, "queue", queue_kept)
    monkeypatch.setattr(Outbox, "keep", keep_counted)
    monkeypatch.setitem(TOOLS, "write_file", replace(TOOLS["write_file"], run=write_checked))

    async def done(api: httpx.AsyncClient) -> bool:
        return await task_status(api, task) == "review"

    run(srv, ["donna"], done)
    assert len(reports) >= 3, "the move to in_progress and two calls' usage were queued"
    [(queued, committed, state)] = seen_when_acting
    assert committed >= queued > 0, "every report queued before the state is on disk"
    last = orjson.loads(state)["conversations"][str(task)]["turns"][-1]
    assert last["role"] == "assistant" and last["tool_calls"][0][1] == "write_file", last
    assert not (srv.fleet_dir / "workspaces" / "donna" / ".mcos" / "state.json").exists()
    with srv.client() as operator:
        usage = {a["agent"]: a for a in operator.get("/api/v1/usage").json()["agents"]}
        history = operator.get(f"/api/v1/tasks/{task}").json()["history"]
    assert usage["donna"]["spent"]["daily_tokens"] > 0
    assert [h["data"]["to"] for h in history if h["type"] == "task.moved"] == [
        "in_progress",
        "review",
    ]


def test_a_state_an_older_runner_saved_in_the_workspace_is_resumed_then_kept_by_the_runner(
    srv: Server, fake: FakeProviderServer
) -> None:
    task = create_task(srv, "Inbox digest", "donna")
    old = srv.fleet_dir / "workspaces" / "donna" / ".mcos" / "state.json"
    old.parent.mkdir(parents=True, exist_ok=True)
    turns = [
        {"role": "user", "text": f"Task #{task}: Inbox digest"},
        {"role": "assistant", "text": "", "tool_calls": [["c1", "read_file", '{"path": "a"}']]},
        {"role": "tool", "text": "3 urgent mails", "tool_call_id": "c1"},
    ]
    old.write_bytes(
        orjson.dumps({"conversations": {str(task): {"turns": turns}}, "current_task": task})
    )
    fake.set_script(Script([Rule(key="key-donna", steps=(Step.reply("Digest written."),))]))

    async def done(api: httpx.AsyncClient) -> bool:
        return await task_status(api, task) == "review"

    run(srv, ["donna"], done)
    requests = [r for r in fake.requests if r.key == "key-donna"]
    assert requests[0].tool_results == ("3 urgent mails",), "went on from where it was"
    assert not old.exists(), "read once, then removed"
    outbox_file = srv.fleet_dir / ".mcos" / "runner" / "test" / "outbox.db"
    with contextlib.closing(sqlite3.connect(outbox_file)) as conn:
        (kept,) = conn.execute("SELECT value FROM kept WHERE key = 'state:donna'").fetchone()
    assert orjson.loads(kept)["conversations"] == {}, "the finished task is no longer in it"


def test_flow_cannot_exec_however_it_asks_and_its_stuck_task_is_escalated(
    srv: Server, fake: FakeProviderServer
) -> None:
    task = create_task(srv, "Rebuild fibreflow", "flow")
    build = Step.call("run_shell", {"command": "cd /srv/fibreflow && npm run build"})
    fake.set_script(Script([Rule(key="key-flow", steps=(build, build, build))]))

    async def blocked(api: httpx.AsyncClient) -> bool:
        return await task_status(api, task) == "blocked"

    run(srv, ["flow"], blocked)

    # The tool was never offered; asked for anyway, the control plane refused it every time.
    assert all("run_shell" not in r.tools for r in fake.requests)
    with srv.client() as operator:
        decided = operator.get("/api/v1/events", params={"types": "policy.decided"}).json()
        denials = [e["data"] for e in decided["events"] if e["data"]["agent"] == "flow"]
        assert [(d["action"]["kind"], d["outcome"], d["rule"]) for d in denials] == [
            ("shell.exec", "deny", "capability")
        ] * 3
        escalated = operator.get(
            "/api/v1/events", params={"types": "runtime.task_escalated"}
        ).json()["events"]
        assert len(escalated) == 1 and escalated[0]["data"]["supervisor"] == "elon"
        told = operator.get("/api/v1/messages", params={"agent": "elon"}).json()["messages"]
        assert any(m["sender"] == "agent:flow" and f"#{task}" in m["body"] for m in told)
    assert not list((srv.fleet_dir / "workspaces" / "flow").glob("node_modules"))


def test_the_gauge_crossing_the_flush_line_flushes_memory_then_compacts(
    srv: Server, fake: FakeProviderServer
) -> None:
    task = create_task(srv, "Quarterly research", "atlas")
    with srv.client() as operator:
        # A 180k-token prompt is more than atlas may spend in a day; this test is not about that.
        raised = operator.patch(
            "/api/v1/agents/atlas/budget",
            json={
                "daily_tokens": 10_000_000,
                "monthly_tokens": 10_000_000,
                "daily_usd": 100,
                "monthly_usd": 100,
                "reason": "a long research session",
            },
        )
        assert raised.status_code == 200, raised.text
    # The first answer reports a prompt past atlas's flush line (200k - 20k - 4k = 176k).
    fake.set_script(
        Script(
            [
                Rule(
                    key="key-atlas",
                    times=1,
                    steps=(
                        Step.call(
                            "write_file",
                            {"path": "findings.md", "content": "fibre demand up 12%"},
                            prompt_tokens=180_000,
                        ),
                    ),
                )
            ]
        )
    )

    async def done(api: httpx.AsyncClient) -> bool:
        return await task_status(api, task) == "review"

    run(srv, ["atlas"], done)

    with srv.client() as operator:
        log = operator.get(
            "/api/v1/events", params={"types": "memory.*,agent.heartbeat", "limit": 1000}
        ).json()["events"]
        atlas = [e for e in log if e["subject"] == "agent:atlas"]
        kinds = [e["type"] for e in atlas if e["type"].startswith("memory.")]
        assert kinds == ["memory.flushed", "memory.compacted"]
        # The note is the day's the flush was made in (the fleet's zone), as recorded.
        day = next(e for e in atlas if e["type"] == "memory.flushed")["data"]["day"]
        note = srv.fleet_dir / "workspaces" / "atlas" / "memory" / f"{day}.md"
        assert "before compaction (task #" in note.read_text()
        compacted = next(e for e in atlas if e["type"] == "memory.compacted")["data"]
        assert compacted["tokens_before"] == 180_000 > compacted["tokens_after"]
        gauges = [e["data"]["gauge"]["tokens"] for e in atlas if e["type"] == "agent.heartbeat"]
        assert 180_000 in gauges or any(g >= 176_000 for g in gauges), gauges
        notes = operator.get("/api/v1/agents/atlas/memory").json()["notes"]
        assert notes and notes[0]["content"].startswith("(simulated)")
        agent = operator.get("/api/v1/agents/atlas").json()
        assert agent["compactions"] == 1


def test_a_429_cools_down_only_that_agent_and_it_never_retries_early(
    srv: Server, fake: FakeProviderServer
) -> None:
    slow = create_task(srv, "Chase overdue invoices", "donna")
    fine = create_task(srv, "Review the NDA", "apex")
    fake.set_script(
        Script([Rule(key="key-donna", times=1, steps=(Step.fail(429, retry_after=600),))])
    )

    async def settled(api: httpx.AsyncClient) -> bool:
        donna = (await api.get("/api/v1/agents/donna")).json()
        return donna["liveness"] == "cooling_down" and await task_status(api, fine) == "review"

    run(srv, ["donna", "apex"], settled)

    assert [r.key for r in fake.requests].count("key-donna") == 1
    with srv.client() as operator:
        agents = {a["name"]: a for a in operator.get("/api/v1/agents").json()["agents"]}
        assert agents["donna"]["liveness"] == "cooling_down"
        assert agents["apex"]["liveness"] != "cooling_down"
        cooled = operator.get("/api/v1/events", params={"types": "agent.cooling_down"}).json()
        assert [e["data"]["credential"] for e in cooled["events"]] == ["MCOS_DONNA_ANTHROPIC_KEY"]
        assert operator.get(f"/api/v1/tasks/{slow}").json()["status"] == "in_progress"


def test_bad_tool_calls_get_clear_errors_and_the_task_goes_on(
    srv: Server, fake: FakeProviderServer
) -> None:
    task = create_task(srv, "Tidy the notes", "quill")
    fake.set_script(
        Script(
            [
                Rule(
                    key="key-quill",
                    steps=(
                        Step.call("delete_everything", {}),
                        Step.call("write_file", '{"path": "a.md", "content": '),
                        Step.call("write_file", {"path": "a.md"}),
                        Step.call("write_file", {"path": "../escape.md", "content": "x"}),
                        Step.reply("Notes tidied."),
                    ),
                )
            ]
        )
    )

    async def done(api: httpx.AsyncClient) -> bool:
        return await task_status(api, task) == "review"

    run(srv, ["quill"], done)

    results = [r for r in fake.requests if r.key == "key-quill"][-1].tool_results
    assert "there is no tool named 'delete_everything'" in results[0]
    assert "not valid JSON" in results[1]
    assert "content: Field required" in results[2]
    assert "outside your workspace" in results[3]
    assert not (srv.fleet_dir / "workspaces" / "escape.md").exists()


def test_an_action_that_needs_approval_waits_while_the_agent_works_on(
    srv: Server, fake: FakeProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet_file = srv.fleet_dir / "fleet.toml"
    text = fleet_file.read_text()
    elon = text.index('name = "elon"')
    # Elon may exec, but must ask a person first every time.
    marker = text.index("[agents.budget]", elon)
    fleet_file.write_text(
        text[:marker] + '[agents.guard]\nask_first = ["shell.exec"]\n' + text[marker:]
    )
    srv.stop()
    srv.start()  # the control plane reads the fleet file when it starts
    restart = create_task(srv, "Restart the crashed fibreflow service", "elon")
    check = create_task(srv, "Check the disk space report", "elon")
    fake.set_script(
        Script(
            [
                Rule(
                    key="key-elon",
                    contains="Restart the crashed",
                    times=1,
                    steps=(Step.call("run_shell", {"command": "echo restarted > restart.log"}),),
                )
            ]
        )
    )
    runner = make_runner(srv, ["elon"])

    async def scenario() -> None:
        async def other_done_and_waiting(api: httpx.AsyncClient) -> bool:
            pending = (await api.get("/api/v1/approvals", params={"status": "pending"})).json()
            return bool(pending["approvals"]) and await task_status(api, check) == "review"

        async with running(runner, url=srv.url, token=srv.operator_token) as agents:
            api = agents.api
            await agents.until(other_done_and_waiting)
            assert await task_status(api, restart) == "in_progress"
            assert not (srv.fleet_dir / "workspaces" / "elon" / "restart.log").exists()
            pending = (await api.get("/api/v1/approvals", params={"status": "pending"})).json()
            approval = pending["approvals"][0]
            assert approval["subject"]["command"] == "echo restarted > restart.log"
            decided = await api.post(
                f"/api/v1/approvals/{approval['id']}/approve", json={"comment": "go"}
            )
            assert decided.status_code == 200, decided.text

            async def restarted(api: httpx.AsyncClient) -> bool:
                return await task_status(api, restart) == "review"

            await agents.until(restarted)

    asyncio.run(scenario())
    log = srv.fleet_dir / "workspaces" / "elon" / "restart.log"
    assert log.read_text() == "restarted\n"
    assert "approved and run_shell ran" in fake.requests[-1].last_user_text


def test_overload_is_retried_with_backoff_and_a_permanent_error_fails_the_task(
    srv: Server, fake: FakeProviderServer
) -> None:
    variance = create_task(srv, "Variance analysis", "vega")
    contract = create_task(srv, "Draft the lease", "apex")
    fake.set_script(
        Script(
            [
                Rule(key="key-vega", times=2, steps=(Step.fail(529, "Overloaded"),)),
                Rule(key="key-apex", steps=(Step.fail(400, "model: claude-x is not a model"),)),
            ]
        )
    )

    async def settled(api: httpx.AsyncClient) -> bool:
        return (await task_status(api, variance), await task_status(api, contract)) == (
            "review",
            "blocked",
        )

    run(srv, ["vega", "apex"], settled)

    assert [r.status for r in fake.requests if r.key == "key-vega"] == [529, 529, 200]
    assert [r.status for r in fake.requests if r.key == "key-apex"] == [400]
    with srv.client() as operator:
        history = operator.get(f"/api/v1/tasks/{contract}").json()["history"]
        blocked = [h["data"] for h in history if h["type"] == "task.moved"][-1]
        assert blocked["to"] == "blocked"
        assert "claude-x is not a model" in blocked["reason"]


def test_a_paused_agent_makes_no_call(srv: Server, fake: FakeProviderServer) -> None:
    task = create_task(srv, "Inbox digest", "donna")
    with srv.client() as operator:
        lowered = operator.patch(
            "/api/v1/agents/donna/budget", json={"daily_usd": 0.0001, "reason": "test the pause"}
        )
        assert lowered.status_code == 200, lowered.text

    async def paused(api: httpx.AsyncClient) -> bool:
        return (await api.get("/api/v1/agents/donna")).json()["liveness"] == "suspended"

    run(srv, ["donna"], paused)

    assert fake.requests == []
    with srv.client() as operator:
        assert operator.get(f"/api/v1/tasks/{task}").json()["status"] == "in_progress"
        refused = operator.get("/api/v1/events", params={"types": "budget.*"}).json()["events"]
        assert [e["type"] for e in refused] == ["budget.changed", "budget.exceeded"]


def test_on_waking_an_agent_reads_yesterdays_and_todays_notes(srv: Server) -> None:
    today = datetime.now(ZoneInfo("Africa/Johannesburg")).date()
    memory = srv.fleet_dir / "workspaces" / "donna" / "memory"
    memory.mkdir(parents=True)
    (memory / f"{today - timedelta(days=1)}.md").write_text("- Vodacom renewal due Friday\n")
    (memory / f"{today - timedelta(days=2)}.md").write_text("- an older note, not read\n")
    fleet_file = srv.fleet_dir / "fleet.toml"
    text = fleet_file.read_text()
    at = text.index('provider = "anthropic"', text.index('name = "donna"'))
    # The runner reads the fleet file; donna runs on the in-package simulated model here.
    fleet_file.write_text(text[:at] + 'provider = "simulated"' + text[at + 22 :])
    task = create_task(srv, "What is due this week?", "donna")
    script = Script(
        [
            Rule(agent="Vodacom renewal due Friday", steps=(Step.reply("Vodacom, Friday."),)),
            Rule(agent="an older note", steps=(Step.reply("read too much"),)),
        ]
    )

    async def done(api: httpx.AsyncClient) -> bool:
        return await task_status(api, task) == "review"

    run(srv, ["donna"], done, script=script)

    with srv.client() as operator:
        history = operator.get(f"/api/v1/tasks/{task}").json()["history"]
        comments = [h["data"]["body"] for h in history if h["type"] == "task.commented"]
        assert comments == ["(simulated) Vodacom, Friday."]


def test_a_directive_wakes_an_idle_agent_which_acts_on_it_once(
    srv: Server, fake: FakeProviderServer
) -> None:
    fake.set_script(
        Script(
            [
                Rule(
                    key="key-donna",
                    contains="DIRECTIVE from operator",
                    steps=(
                        Step.call("send_message", {"to": "jarvis", "body": "Digest by 07:00."}),
                    ),
                )
            ]
        )
    )
    runner = make_runner(srv, ["donna"])

    async def scenario() -> None:
        async def idle(api: httpx.AsyncClient) -> bool:
            return (await api.get("/api/v1/agents/donna")).json()["liveness"] == "idle"

        async def replied(api: httpx.AsyncClient) -> bool:
            log = (await api.get("/api/v1/messages", params={"agent": "jarvis"})).json()
            return any(m["sender"] == "agent:donna" for m in log["messages"])

        async with running(runner, url=srv.url, token=srv.operator_token) as agents:
            # Idle first: heartbeated, nothing to do (its next heartbeat is minutes away).
            await agents.until(idle)
            sent = await agents.api.post(
                "/api/v1/messages",
                json={"to": "donna", "kind": "directive", "body": "Send Jarvis the digest."},
            )
            assert sent.status_code == 201, sent.text
            await agents.until(replied)
            # A nudge wakes her again: the directive was acked, so it is not acted on twice.
            nudged = await agents.api.post("/api/v1/agents/donna/nudge", json={"reason": "test"})
            assert nudged.status_code == 200, nudged.text
            seq = nudged.json()["seq"]

            async def heartbeated(api: httpx.AsyncClient) -> bool:
                params = {"types": "agent.heartbeat", "after": seq}
                return bool((await api.get("/api/v1/events", params=params)).json()["events"])

            await agents.until(heartbeated)

    asyncio.run(scenario())
    donna = [r for r in fake.requests if r.key == "key-donna"]
    assert len(donna) == 2  # the directive and its tool result; nothing after the nudge
    assert "DIRECTIVE from operator to you: Send Jarvis the digest." in donna[0].last_user_text


def test_an_agent_on_an_openai_compatible_endpoint_works_through_the_openai_sdk(
    srv: Server, fake: FakeProviderServer
) -> None:
    fleet_file = srv.fleet_dir / "fleet.toml"
    text = fleet_file.read_text()
    at = text.index('provider = "anthropic"', text.index('name = "vega"'))
    end = text.index("\n", text.index("model = ", at))
    local = f'provider = "openai"\nmodel = "gpt-4o-mini"\nbase_url = "{fake.openai_base_url}"'
    fleet_file.write_text(text[:at] + local + text[end:])
    srv.stop()
    srv.start()  # the control plane prices vega's calls by the fleet file it read
    task = create_task(srv, "Variance analysis", "vega")
    fake.set_script(
        Script(
            [
                Rule(
                    key="key-vega",
                    steps=(
                        Step.call("write_file", {"path": "variance.md", "content": "+4% opex"}),
                        Step.reply("Opex is 4% over plan."),
                    ),
                )
            ]
        )
    )

    async def done(api: httpx.AsyncClient) -> bool:
        return await task_status(api, task) == "review"

    run(srv, ["vega"], done)

    assert [(r.api, r.model) for r in fake.requests] == [("openai", "gpt-4o-mini")] * 2
    assert (srv.fleet_dir / "workspaces" / "vega" / "variance.md").read_text() == "+4% opex"
    with srv.client() as operator:
        models = operator.get("/api/v1/usage").json()["models_this_month"]
        assert [m["model"] for m in models] == ["gpt-4o-mini"] and models[0]["calls"] == 2


def test_fetch_url_is_asked_of_the_control_plane_then_fetched(
    srv: Server, fake: FakeProviderServer
) -> None:
    with WebServer("127.0.0.2") as web:
        web.page("/status", "all systems normal")
        # Loopback is closed to agents; the operator opens this one server to Donna.
        fleet_file = srv.fleet_dir / "fleet.toml"
        text = fleet_file.read_text()
        at = text.index("[agents.budget]", text.index('name = "donna"'))
        exception = f'[agents.guard]\nallowed_hosts = ["{web.authority}"]\n'
        fleet_file.write_text(text[:at] + exception + text[at:])
        srv.stop()
        srv.start()
        task = create_task(srv, "Check the provider status page", "donna")
        page = web.url("/status")
        fake.set_script(
            Script([Rule(key="key-donna", steps=(Step.call("fetch_url", {"url": page}),))])
        )

        async def done(api: httpx.AsyncClient) -> bool:
            return await task_status(api, task) == "review"

        run(srv, ["donna"], done)

    assert fake.requests[-1].tool_results[0] == "HTTP 200\nall systems normal"
    with srv.client() as operator:
        decided = operator.get("/api/v1/events", params={"types": "policy.decided"}).json()
        fetches = [e["data"] for e in decided["events"] if e["data"]["agent"] == "donna"]
        assert [
            (f["action"]["kind"], f["action"]["host"], f["action"]["addresses"], f["outcome"])
            for f in fetches
        ] == [("http.fetch", "127.0.0.2", ["127.0.0.2"], "allow")]


def test_a_long_piece_of_work_keeps_heartbeating(srv: Server, fake: FakeProviderServer) -> None:
    # Supervision reassigns the work of a silent agent: a busy one must not look silent.
    task = create_task(srv, "Rebuild the reverse proxy", "elon")
    fake.set_script(
        Script(
            [
                Rule(
                    key="key-elon",
                    steps=(
                        Step.call("run_shell", {"command": "sleep 6"}),
                        Step.reply("Rebuilt."),
                    ),
                )
            ]
        )
    )
    runner = make_runner(srv, ["elon"])
    quick = Liveness(heartbeat_seconds=5, stalled_after_seconds=600, offline_after_seconds=3600)
    elon = runner.agents[0].model_copy(update={"liveness": quick})
    runner.agents = [elon]
    runner.fleet = runner.fleet.model_copy(
        update={"agents": tuple(elon if a.name == "elon" else a for a in runner.fleet.agents)}
    )

    async def done(api: httpx.AsyncClient) -> bool:
        return await task_status(api, task) == "review"

    asyncio.run(run_until(runner, done, url=srv.url, token=srv.operator_token))
    with srv.client() as operator:
        beats = operator.get(
            "/api/v1/events", params={"types": "agent.heartbeat", "limit": 1000}
        ).json()["events"]
    mid_task = [
        b["data"]
        for b in beats
        if b["data"]["agent"] == "elon" and b["data"].get("current_task") == task
    ]
    assert mid_task and all(b["status"] == "working" for b in mid_task), mid_task


def test_a_restored_capability_is_offered_for_exactly_its_time_box(
    srv: Server, fake: FakeProviderServer
) -> None:
    with srv.agent("flow") as flow:
        asked = flow.post(
            "/api/v1/approvals",
            json={"capability": "exec", "minutes": 0.1, "reason": "rebuild staging"},
        )
    srv.mcos("approvals", "approve", str(asked.json()["id"]))
    with srv.client() as operator:
        [grant] = operator.get("/api/v1/events", params={"types": "grant.created"}).json()["events"]
    until = datetime.fromisoformat(grant["data"]["until"])
    first = create_task(srv, "Rebuild staging", "flow")
    fake.set_script(Script([Rule(key="key-flow", steps=(Step.reply("(simulated) built"),))]))

    async def scenario() -> None:
        runner = make_runner(srv, ["flow"])
        async with running(runner, url=srv.url, token=srv.operator_token) as agents:

            async def finished(api: httpx.AsyncClient) -> bool:
                return await task_status(api, first) == "review"

            await agents.until(finished)
            # The grant's time box ends.
            await asyncio.sleep(max(0.0, (until - datetime.now(until.tzinfo)).total_seconds()))
            second = await agents.api.post(
                "/api/v1/tasks", json={"title": "Rebuild again", "assignee": "flow"}
            )

            async def finished_too(api: httpx.AsyncClient) -> bool:
                return await task_status(api, second.json()["id"]) == "review"

            await agents.until(finished_too)

    asyncio.run(scenario())
    calls = [r for r in fake.requests if r.key == "key-flow"]
    assert "run_shell" in calls[0].tools, "offered while the restoration lasts"
    assert "run_shell" not in calls[-1].tools, "and no longer once it has lapsed"


def test_a_task_sent_back_before_the_runner_noted_its_reports_is_worked_again(
    srv: Server, fake: FakeProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reviewer is quicker than the outbox: the move to review has reached the control
    plane but the runner has not yet noted it delivered when the card comes back. The agent
    must look again once its reports are noted, not a heartbeat interval (300 s) later."""
    real = outbox._done_with

    def slowly_noted(seq: int, rejection: tuple[int, str] | None) -> Any:
        done = real(seq, rejection)

        def note(conn: Any) -> Any:
            time.sleep(1.5)  # a loaded machine's fsync, long enough to lose the race every time
            return done(conn)

        return note

    monkeypatch.setattr(outbox, "_done_with", slowly_noted)
    summary = create_task(srv, "Board summary", "donna")
    fake.set_script(
        Script(
            [
                Rule(key="key-donna", contains="Make it shorter", steps=(Step.reply("Shorter."),)),
                Rule(key="key-donna", times=1, steps=(Step.reply("Summary written."),)),
            ]
        )
    )

    async def scenario() -> None:
        runner = make_runner(srv, ["donna"])
        async with running(runner, url=srv.url, token=srv.operator_token, seconds=45) as agents:

            async def in_review(api: httpx.AsyncClient) -> bool:
                return await task_status(api, summary) == "review"

            await agents.until(in_review)
            api = agents.api
            said = await api.post(
                f"/api/v1/tasks/{summary}/comments", json={"body": "Make it shorter."}
            )
            assert said.status_code == 201, said.text
            back = await api.post(f"/api/v1/tasks/{summary}/move", json={"status": "in_progress"})
            assert back.status_code == 200, back.text

            async def redone(api: httpx.AsyncClient) -> bool:
                task = (await api.get(f"/api/v1/tasks/{summary}")).json()
                bodies = [
                    h["data"]["body"] for h in task["history"] if h["type"] == "task.commented"
                ]
                return task["status"] == "review" and any(b.endswith("Shorter.") for b in bodies)

            await agents.until(redone)

    asyncio.run(scenario())
