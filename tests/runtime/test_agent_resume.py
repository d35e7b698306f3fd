"""Restarting after the runner was killed during a tool call: the saved conversation ends in a
reply whose calls have no result (the state is kept after the model call and again after its
tools). Each such call is answered as interrupted, never run again, and the work goes
on; the wire-level fakes refuse, as the real APIs do, a conversation with an unanswered call."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest

from mcos.client.outbox import DeliveryResult, Outbox, Report
from mcos.runtime.conversation import INTERRUPTED, Conversation, Saved
from mcos.runtime.providers.base import ToolCall, Turn
from mcos.runtime.providers.simulated import Rule, Script, Step
from mcos.testing.fake_providers import FakeProviderServer, RecordedRequest
from tests.fixtures.runtime import make_runner, run_until, running, task_status
from tests.fixtures.server import Server

WRITE_DIGEST = ToolCall("call_2_0", "write_file", '{"path": "digest.md", "content": "3 urgent"}')
WRITE_NOTES = ToolCall("call_2_1", "write_file", '{"path": "notes.md", "content": "urgent"}')


def create_task(srv: Server, title: str, assignee: str) -> int:
    """A task as the killed runner left it: created, then moved to in_progress by its agent."""
    with srv.client() as operator:
        created = operator.post("/api/v1/tasks", json={"title": title, "assignee": assignee})
        assert created.status_code == 201, created.text
        task_id: int = created.json()["id"]
        moved = operator.post(f"/api/v1/tasks/{task_id}/move", json={"status": "in_progress"})
        assert moved.status_code == 200, moved.text
    return task_id


def outbox_file(srv: Server) -> Path:
    """The outbox of the runners ``make_runner`` starts, where they keep their agents' state."""
    folder = srv.fleet_dir / ".mcos" / "runner" / "test"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "outbox.db"


async def _never(report: Report) -> DeliveryResult:
    raise AssertionError("nothing is delivered from here")


def keep_state(srv: Server, agent: str, saved: Saved) -> None:
    """Leave ``saved`` as the agent's state, where a runner killed mid-step left it."""

    async def keep() -> None:
        box = Outbox(outbox_file(srv), _never)
        try:
            await box.keep(f"state:{agent}", saved.to_json())
        finally:
            box.close()

    asyncio.run(keep())


def kept_state(srv: Server, agent: str) -> Saved:
    box = Outbox(outbox_file(srv), _never)
    try:
        kept = box.kept(f"state:{agent}")
    finally:
        box.close()
    assert kept is not None, f"no state kept for {agent}"
    return Saved.from_json(kept)


def use_openai(srv: Server, fake: FakeProviderServer, agent: str) -> None:
    """Put ``agent`` on the fake's OpenAI Chat Completions endpoint (the seed fleet has it on
    Anthropic)."""
    fleet_file = srv.fleet_dir / "fleet.toml"
    text = fleet_file.read_text()
    at = text.index('provider = "anthropic"', text.index(f'name = "{agent}"'))
    end = text.index("\n", text.index("model = ", at))
    local = f'provider = "openai"\nmodel = "gpt-4o-mini"\nbase_url = "{fake.openai_base_url}"'
    fleet_file.write_text(text[:at] + local + text[end:])
    srv.stop()
    srv.start()  # the control plane prices the agent's calls by the fleet file it read


def resume_until_settled(srv: Server, agent: str, task_id: int) -> str:
    """Start the runner on the saved state and run it until the task is in review or blocked."""
    settled = ("review", "blocked")

    async def settled_check(api: httpx.AsyncClient) -> bool:
        return await task_status(api, task_id) in settled

    runner = make_runner(srv, [agent])
    asyncio.run(run_until(runner, settled_check, url=srv.url, token=srv.operator_token))
    with srv.client() as operator:
        status: str = operator.get(f"/api/v1/tasks/{task_id}").json()["status"]
    return status


def calls_of(fake: FakeProviderServer, agent: str) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.key == f"key-{agent}"]


@pytest.mark.parametrize(("agent", "api"), [("donna", "anthropic"), ("vega", "openai")])
def test_a_call_cut_off_by_a_kill_is_answered_as_interrupted_and_the_task_resumes(
    srv: Server, fake: FakeProviderServer, caplog: pytest.LogCaptureFixture, agent: str, api: str
) -> None:
    if api == "openai":
        use_openai(srv, fake, agent)
    task = create_task(srv, "Inbox digest", agent)
    cut_off = Turn("assistant", "", (WRITE_DIGEST,))
    keep_state(
        srv,
        agent,
        Saved(
            conversations={
                str(task): Conversation([Turn("user", f"Task #{task}"), cut_off], steps=1)
            },
            current_task=task,
        ),
    )

    with caplog.at_level(logging.WARNING, logger="mcos.runtime"):
        status = resume_until_settled(srv, agent, task)

    calls = calls_of(fake, agent)
    assert [(r.api, r.status) for r in calls] == [(api, 200)], "the API took the resumed turns"
    assert status == "review", "resumed and finished, not blocked by a refused call"
    # Chat Completions has no is_error flag: the text carries it (TOOL_ERROR_PREFIX).
    assert [t.removeprefix("[tool error] ") for t in calls[0].tool_results] == [INTERRUPTED]
    assert not (srv.fleet_dir / "workspaces" / agent / "digest.md").exists(), "not run again"
    assert any(
        r.levelno == logging.WARNING and "the runner stopped while write_file(" in r.getMessage()
        for r in caplog.records
    ), "the operator is told in the runner's log"


def test_of_two_calls_the_one_left_without_a_result_is_answered_before_new_messages(
    srv: Server, fake: FakeProviderServer
) -> None:
    """The first call's result was saved, the runner was killed during the second; a message
    sent meanwhile joins the conversation after both results (Anthropic wants the results first
    in the message after the calls)."""
    task = create_task(srv, "Inbox digest", "donna")
    done = Turn("tool", "wrote digest.md (8 bytes)", tool_call_id=WRITE_DIGEST.id)
    turns = [
        Turn("user", f"Task #{task}"),
        Turn("assistant", "", (WRITE_DIGEST, WRITE_NOTES)),
        done,
    ]
    keep_state(
        srv,
        "donna",
        Saved(conversations={str(task): Conversation(turns, steps=1)}, current_task=task),
    )
    with srv.client() as operator:
        body = {"to": "donna", "kind": "directive", "body": "Flag the bank's mail."}
        assert operator.post("/api/v1/messages", json=body).status_code == 201

    assert resume_until_settled(srv, "donna", task) == "review"

    calls = calls_of(fake, "donna")
    assert [r.status for r in calls] == [200]
    assert calls[0].tool_results == (done.text, INTERRUPTED)
    assert "Flag the bank's mail." in calls[0].last_user_text
    assert not (srv.fleet_dir / "workspaces" / "donna" / "notes.md").exists(), "not run again"


def test_the_inbox_conversation_is_resumed_the_same_way(
    srv: Server, fake: FakeProviderServer
) -> None:
    tell = ToolCall("call_2_0", "send_message", '{"to": "jarvis", "body": "Digest by 07:00."}')
    keep_state(
        srv,
        "donna",
        Saved(
            conversations={
                "inbox": Conversation(
                    [Turn("user", "New messages:\n- DIRECTIVE"), Turn("assistant", "", (tell,))]
                )
            },
        ),
    )
    with srv.client() as operator:
        body = {"to": "donna", "kind": "directive", "body": "Send Jarvis the digest."}
        assert operator.post("/api/v1/messages", json=body).status_code == 201

    async def answered(api: httpx.AsyncClient) -> bool:
        return bool(calls_of(fake, "donna"))

    runner = make_runner(srv, ["donna"])
    asyncio.run(run_until(runner, answered, url=srv.url, token=srv.operator_token))

    calls = calls_of(fake, "donna")
    assert [r.status for r in calls] == [200], "the API took the resumed inbox turns"
    assert calls[0].tool_results == (INTERRUPTED,)
    assert "Send Jarvis the digest." in calls[0].last_user_text
    with srv.client() as operator:
        sent = operator.get("/api/v1/messages", params={"agent": "jarvis"}).json()["messages"]
    assert not [m for m in sent if m["sender"] == "agent:donna"], "not sent again"


def park_a_restart(srv: Server, fake: FakeProviderServer) -> int:
    """Elon (asking first before any command) works "Restart the crashed service" until its
    `run_shell` call waits for an approval; the task's id."""
    fleet_file = srv.fleet_dir / "fleet.toml"
    text = fleet_file.read_text()
    marker = text.index("[agents.budget]", text.index('name = "elon"'))
    fleet_file.write_text(
        text[:marker] + '[agents.guard]\nask_first = ["shell.exec"]\n' + text[marker:]
    )
    srv.stop()
    srv.start()  # the control plane reads the fleet file when it starts
    with srv.client() as operator:
        created = operator.post(
            "/api/v1/tasks", json={"title": "Restart the crashed service", "assignee": "elon"}
        )
        task = created.json()["id"]
    fake.set_script(
        Script(
            [
                Rule(
                    key="key-elon",
                    contains="Restart the crashed",
                    times=1,
                    steps=(Step.call("run_shell", {"command": "echo restarted >> restart.log"}),),
                )
            ]
        )
    )

    async def parked(api: httpx.AsyncClient) -> bool:
        pending = (await api.get("/api/v1/approvals", params={"status": "pending"})).json()
        return bool(pending["approvals"])

    asyncio.run(
        run_until(make_runner(srv, ["elon"]), parked, url=srv.url, token=srv.operator_token)
    )
    return task


def test_a_parked_call_waits_through_a_restart_and_runs_once_approved(
    srv: Server, fake: FakeProviderServer
) -> None:
    """A call waiting for an approval has its result (the model was told it waits): a restart
    leaves it alone, and the approved command runs once. A second call of the same reply,
    killed while it ran, is answered as interrupted next to it."""
    task = park_a_restart(srv, fake)
    # Killed during a second call of the same reply, after the first had parked (its state was
    # saved on the way out, as an interrupted step saves it).
    saved = kept_state(srv, "elon")
    assert str(task) in saved.parked, "the first run parked the call"
    conversation = saved.conversations[str(task)]
    reply = conversation.turns[1]
    assert reply.role == "assistant" and conversation.turns[2].role == "tool"
    conversation.turns[1] = Turn("assistant", reply.text, (*reply.tool_calls, WRITE_NOTES))
    keep_state(srv, "elon", saved)
    parked_turn = conversation.turns[2]
    fake.clear_requests()
    with srv.client() as operator:
        events = operator.get("/api/v1/events", params={"limit": 1000}).json()["events"]
    before = max(e["seq"] for e in events)

    async def scenario() -> None:
        runner = make_runner(srv, ["elon"])
        async with running(runner, url=srv.url, token=srv.operator_token) as agents:
            api = agents.api

            async def heartbeated(api: httpx.AsyncClient) -> bool:
                params = {"types": "agent.heartbeat", "after": before}
                return bool((await api.get("/api/v1/events", params=params)).json()["events"])

            await agents.until(heartbeated)  # restarted, with the approval still pending
            pending = (await api.get("/api/v1/approvals", params={"status": "pending"})).json()
            approval = pending["approvals"][0]["id"]
            decided = await api.post(f"/api/v1/approvals/{approval}/approve", json={})
            assert decided.status_code == 200, decided.text

            async def settled(api: httpx.AsyncClient) -> bool:
                return await task_status(api, task) in ("review", "blocked")

            await agents.until(settled)
            assert await task_status(api, task) == "review"

    asyncio.run(scenario())
    elon = srv.fleet_dir / "workspaces" / "elon"
    assert (elon / "restart.log").read_text() == "restarted\n", "the approved command ran once"
    assert not (elon / "notes.md").exists(), "the interrupted call was not run again"
    assert [r.status for r in fake.requests] == [200]
    assert fake.requests[0].tool_results == (parked_turn.text, INTERRUPTED)
    assert "approved and run_shell ran" in fake.requests[0].last_user_text


def test_the_parked_call_of_a_task_given_up_is_dropped_and_never_carried_out(
    srv: Server, fake: FakeProviderServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A task blocked after its call was parked (given up as stuck, or a state an older runner
    left that way): approving the call later carries nothing out, and the loop goes on."""
    task = park_a_restart(srv, fake)
    saved = kept_state(srv, "elon")
    assert str(task) in saved.parked
    del saved.conversations[str(task)]  # what giving the task up leaves
    keep_state(srv, "elon", saved)
    with srv.client() as operator:
        [approval] = operator.get("/api/v1/approvals", params={"status": "pending"}).json()[
            "approvals"
        ]
        assert operator.post(f"/api/v1/approvals/{approval['id']}/approve", json={}).is_success

    def dropped() -> bool:
        return any("is not acted on" in r.getMessage() for r in caplog.records)

    async def after_a_wake(api: httpx.AsyncClient) -> bool:
        return dropped()

    with caplog.at_level(logging.WARNING, logger="mcos.runtime"):
        runner = make_runner(srv, ["elon"])
        asyncio.run(run_until(runner, after_a_wake, url=srv.url, token=srv.operator_token))

    assert not (srv.fleet_dir / "workspaces" / "elon" / "restart.log").exists(), "not run"
    assert str(task) not in kept_state(srv, "elon").parked
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "no step failed"
