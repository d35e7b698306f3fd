"""``mcos.client`` against a real control plane: every method, the server's errors, retries."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx2
import pytest

from mcos.client import ApiError, AsyncClient, Client, Unreachable, is_duplicate
from tests.fixtures.server import Server


def run(work: Any) -> Any:
    return asyncio.run(work)


def test_an_agent_does_its_day_through_the_async_client(
    plane: Server, tokens: dict[str, str]
) -> None:
    async def day() -> None:
        async with (
            AsyncClient(plane.url, plane.operator_token) as operator,
            AsyncClient(plane.url, tokens["flow"]) as flow,
            AsyncClient(plane.url, tokens["jarvis"]) as jarvis,
        ):
            me = await flow.whoami()
            assert (me.kind, me.acting_as) == ("agent", "agent:flow")
            assert await flow.name() == "flow"

            created = await jarvis.create_task("Ship the release", "tag and push", priority="high")
            assert created is not None and created.status == "inbox" and created.priority == "high"
            assigned = await jarvis.assign(created.id, "flow")
            assert assigned.assignee == "flow" and assigned.status == "assigned"
            await operator.send_message("release today", to="flow", kind="directive")

            beat = await flow.heartbeat("working", context_tokens=12_000, current_task=created.id)
            assert beat.gauge is not None and beat.gauge.tokens == 12_000, "the gauge as reported"
            assert created.id in [t.id for t in beat.tasks], "the work waiting comes back"
            assert [d.body for d in beat.directives] == ["release today"]
            handled = max(m.id for m in beat.directives + beat.messages)
            again = await flow.heartbeat(ack_messages_through=handled)
            assert again.message_cursor == handled
            assert again.directives == [], "acknowledged directives are not delivered again"

            assert [t.id for t in await flow.my_tasks("assigned")] == [created.id]
            moved = await flow.move(created.id, "in_progress", "starting")
            assert moved is not None and moved.status == "in_progress"
            said = await flow.comment(created.id, "tagged v1.2")
            assert said is not None and said.task == created.id and said.actor == "agent:flow"
            full = await flow.task(created.id)
            assert full.description == "tag and push"
            assert [e.type for e in full.history][-2:] == ["task.moved", "task.commented"]

            stored = await flow.upload(
                f"/api/v1/tasks/{created.id}/artifacts",
                b"# Release notes\n",
                "text/markdown",
                {"name": "notes.md"},
            )
            assert (stored["name"], stored["version"]) == ("notes.md", 1)
            content = await flow.download(
                f"/api/v1/tasks/{created.id}/artifacts/{stored['id']}/content"
            )
            assert content == b"# Release notes\n"

            usage = await flow.report_usage("claude-sonnet-4-6", 2_000, 300, task_id=created.id)
            assert usage is not None and usage.cost_usd is not None and usage.cost_usd > 0
            assert usage.task_id == created.id and usage.spent.daily_tokens >= 2_300

            note = await flow.flush_memory("release is tagged v1.2")
            assert note is not None and note.chars == len("release is tagged v1.2")
            assert "release is tagged v1.2" in [n.content for n in await flow.memory()]

            sent = await flow.send_message("tagged", to="jarvis", task_id=created.id)
            assert sent is not None and (sent.scope, sent.to) == ("agent", "jarvis")
            assert sent.id in [m.id for m in await flow.messages()]

            incident = await flow.raise_incident("P2", "disk nearly full", "/var at 93%")
            assert incident is not None and incident.status == "unconfirmed"
            assert incident.id not in [i.id for i in await jarvis.incidents()], (
                "an unconfirmed P2 reaches nobody but its confirmers"
            )
            assert incident.id in [i.id for i in await operator.incidents("unconfirmed")]

            seen = await operator.events(types=["task.moved", "task.commented"])
            assert {"task.moved", "task.commented"} <= {e.type for e in seen}

    run(day())


def test_asking_before_acting(plane: Server, tokens: dict[str, str]) -> None:
    async def scenario() -> None:
        async with (
            AsyncClient(plane.url, plane.operator_token) as operator,
            AsyncClient(plane.url, tokens["flow"]) as flow,
            AsyncClient(plane.url, tokens["vega"]) as vega,
        ):
            allowed = await flow.ask("file.write", paths=["/srv/flow/notes.md"])
            assert (allowed.outcome, allowed.allowed) == ("allow", True)
            refused = await flow.ask("shell.exec", command="rm -rf /")
            assert refused.outcome == "deny" and "lacks the 'exec' capability" in refused.reason

            pay = {"amount_usd": 5_000, "recipient": "acme", "reason": "invoice 7"}
            asked = await vega.ask("payment.send", **pay)
            assert asked.outcome == "ask" and asked.approval_id is not None
            assert asked.approvers == ["human"]
            with pytest.raises(TimeoutError, match="still pending"):
                await vega.wait_for_approval(asked.approval_id, timeout=0.3, poll=0.1)

            async def approve_soon(approval_id: int) -> None:
                await asyncio.sleep(0.3)
                await operator.request(
                    "POST", f"/api/v1/approvals/{approval_id}/approve", {"comment": "ok"}
                )

            # Asking again is one ask: the approval already waiting, approved meanwhile.
            approving = asyncio.create_task(approve_soon(asked.approval_id))
            done = await vega.request_approval("payment.send", timeout=30, **pay)
            await approving
            assert done.outcome == "allow" and done.approval_id == asked.approval_id
            applied = await vega.approval(asked.approval_id)
            assert applied.status == "applied", "carried out, once, on the record"

            async def deny_soon() -> None:
                for _ in range(300):  # until the payment's approval is waiting
                    pending = await operator.request(
                        "GET", "/api/v1/approvals", params={"status": "pending"}
                    )
                    found = [
                        a for a in pending["approvals"] if a["subject"].get("amount_usd") == 7_000
                    ]
                    if found:
                        await operator.request(
                            "POST",
                            f"/api/v1/approvals/{found[0]['id']}/deny",
                            {"comment": "too much"},
                        )
                        return
                    await asyncio.sleep(0.1)

            denying = asyncio.create_task(deny_soon())
            denied = await vega.request_approval(
                "payment.send", timeout=30, amount_usd=7_000, recipient="acme"
            )
            await denying
            assert denied.outcome == "deny" and denied.reason.endswith("was denied: too much")

            with pytest.raises(ApiError) as wrong:
                await flow.ask("shell.exec", command="ls", approval_id=asked.approval_id)
            assert (wrong.value.status, wrong.value.field) == (403, "approval_id")

    run(scenario())


def test_the_servers_refusals_come_back_as_api_errors(
    plane: Server, tokens: dict[str, str]
) -> None:
    async def scenario() -> None:
        async with AsyncClient(plane.url, tokens["flow"]) as flow:
            cases = [
                (flow.create_task(""), 422, "invalid", "title"),
                (flow.heartbeat("dancing"), 422, "invalid", "status"),
                (flow.task(999_999), 404, "not_found", None),
                (flow.report_usage(None, -1, 0), 422, "invalid", "input_tokens"),
                (flow.raise_incident("P2", "x" * 301), 422, "invalid", "title"),
                (flow.send_message("hi", to="nobody"), 422, "invalid", "to"),
            ]
            for call, status, code, field in cases:
                with pytest.raises(ApiError) as caught:
                    await call
                error = caught.value
                assert (error.status, error.code) == (status, code), error
                if field is not None:
                    assert error.field == field, error
            with pytest.raises(ApiError) as shouting:
                await flow.send_message("all hands", fleet=True)
            assert (shouting.value.status, shouting.value.field) == (403, "fleet")

        async with AsyncClient(plane.url, "mcos_a_not-a-token") as stranger:
            with pytest.raises(ApiError) as unknown:
                await stranger.whoami()
            assert (unknown.value.status, unknown.value.field) == (401, "Authorization")

        async with AsyncClient(plane.url, plane.operator_token) as operator:
            with pytest.raises(ValueError, match="acts as no agent"):
                await operator.heartbeat()

    run(scenario())


def test_a_runner_token_acts_as_one_agent_of_its_machine(plane: Server) -> None:
    with plane.client() as op:
        answer = op.post("/api/v1/tokens", json={"kind": "runner", "machine": "velo"})
        assert answer.status_code == 201, answer.text
        runner = answer.json()["token"]

    async def scenario() -> None:
        async with AsyncClient(plane.url, runner, agent="flow") as flow:
            beat = await flow.heartbeat("idle")
            assert beat.agent == "flow"
            usage = await flow.report_usage(None, 10, 1)
            assert usage is not None and usage.agent == "flow"
        async with AsyncClient(plane.url, runner, agent="jarvis") as elsewhere:
            with pytest.raises(ApiError) as refused:
                await elsewhere.heartbeat()
            assert (refused.value.status, refused.value.field) == (403, "X-MCOS-Agent")

    run(scenario())


class LosesFirstAnswers(httpx2.AsyncBaseTransport):
    """The real control plane answers, but the first ``lose`` answers to writes never reach the
    client (a connection reset after the commit): what a retry with a client id is for."""

    def __init__(self, lose: int) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.lose = lose
        self.sent: list[str] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        self.sent.append(f"{request.method} {request.url.path}")
        if request.method != "GET" and self.lose > 0:
            self.lose -= 1
            await response.aread()
            await response.aclose()
            raise httpx2.ReadError("connection reset after the request was sent")
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_a_retried_write_is_recorded_once(plane: Server, tokens: dict[str, str]) -> None:
    async def scenario() -> None:
        async with AsyncClient(plane.url, tokens["jarvis"]) as jarvis:
            task = await jarvis.create_task("Retry me", assignee="flow")
            assert task is not None
        wire = LosesFirstAnswers(lose=1)
        http = httpx2.AsyncClient(base_url=plane.url, transport=wire)
        async with AsyncClient(plane.url, tokens["flow"], http=http, backoff=0.01) as flow:
            # Recorded by the first attempt; the retry is answered duplicate_id: done.
            assert await flow.comment(task.id, "only once") is None
            wire.lose = 1
            moved = await flow.move(task.id, "in_progress")
            assert moved is not None and moved.status == "in_progress", "the card, read back"
            wire.lose = 1
            beat = await flow.heartbeat("working", context_tokens=3_000)
            assert beat.gauge is not None and beat.gauge.tokens == 3_000
            history = (await flow.task(task.id)).history
            assert [e.data.get("body") for e in history if e.type == "task.commented"] == [
                "only once"
            ], "two deliveries, one comment"
            assert [e.type for e in history].count("task.moved") == 1

            raw = await flow.request(
                "POST", f"/api/v1/tasks/{task.id}/comments", {"id": "raw-1", "body": "raw"}
            )
            assert not is_duplicate(raw) and raw["body"] == "raw"
            with pytest.raises(ApiError) as reused:  # not a retry of ours: the caller's mistake
                await flow.comment(task.id, "again", id="raw-1")
            assert (reused.value.code, reused.value.field) == ("duplicate_id", "id")
        await http.aclose()
        comments = f"POST /api/v1/tasks/{task.id}/comments"
        assert wire.sent[:2] == [comments, comments], "sent twice: the answer lost, the retry"

    run(scenario())


def test_nothing_answers_unreachable_after_the_retries() -> None:
    async def scenario() -> None:
        async with AsyncClient("http://127.0.0.1:9", "t", retries=2, backoff=0.01) as nowhere:
            with pytest.raises(Unreachable) as down:
                await nowhere.task(1)
            assert down.value.answered is None

    run(scenario())


def test_the_blocking_client_in_a_plain_script(plane: Server, tokens: dict[str, str]) -> None:
    with Client(plane.url, tokens["flow"]) as flow, Client(plane.url, tokens["jarvis"]) as jarvis:
        task = jarvis.create_task("Blocking work", assignee="flow")
        assert task is not None
        start = flow.events(types=["task.moved"])
        after = start[-1].seq if start else 0
        beat = flow.heartbeat("working", context_tokens=1_000)
        assert task.id in [t.id for t in beat.tasks]
        moved = flow.move(task.id, "in_progress")
        assert moved is not None and moved.status == "in_progress"
        with pytest.raises(ApiError) as refused:
            flow.move(task.id, "done")
        assert refused.value.code == "illegal_transition" and refused.value.field == "status"
        followed = flow.stream(after=after, types=["task.moved"])
        event = next(followed)
        followed.close()
        assert (event.type, event.data["task"], event.data["to"]) == (
            "task.moved",
            task.id,
            "in_progress",
        )

        # From another thread, while this one holds the client: one loop serves both.
        answers: list[str] = []
        worker = threading.Thread(target=lambda: answers.append(flow.whoami().acting_as))
        worker.start()
        worker.join(30)
        assert answers == ["agent:flow"]
    with pytest.raises(RuntimeError, match="closed"):
        flow.whoami()
