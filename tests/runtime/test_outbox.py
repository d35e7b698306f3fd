"""The durable outbox: reports survive outages and restarts, and arrive in order, once each."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from mcos.client.outbox import (
    MAX_SERVER_ERRORS,
    DeliveryResult,
    Outbox,
    RejectedReport,
    Report,
    backoff_delay,
)
from mcos.runtime.client import AgentLink, ControlPlane, deliver, storable
from mcos.runtime.runner import tell_set_aside
from tests.fixtures.server import running_server

USAGE = "/api/v1/agents/donna/usage"
Step = DeliveryResult | Exception


class FakeControlPlane:
    """The deliver callback: answers from a script per report id, then 'delivered'."""

    def __init__(self, script: dict[str, list[Step]] | None = None, *, down: bool = False) -> None:
        self.script = script or {}
        self.down = down
        self.attempts: list[str] = []
        self.delivered: list[Report] = []
        self.reached: dict[int, asyncio.Event] = {}

    def when_delivered(self, count: int) -> Awaitable[bool]:
        return self.reached.setdefault(count, asyncio.Event()).wait()

    async def __call__(self, report: Report) -> DeliveryResult:
        self.attempts.append(report.body["id"])
        steps = self.script.get(report.body["id"], [])
        step = steps.pop(0) if steps else DeliveryResult.retry() if self.down else None
        if isinstance(step, Exception):
            raise step
        if step is not None and step.kind != "delivered":
            return step
        self.delivered.append(report)
        if len(self.delivered) in self.reached:
            self.reached[len(self.delivered)].set()
        return DeliveryResult.delivered()


def fast(path: Path, deliver: Callable[[Report], Awaitable[DeliveryResult]]) -> Outbox:
    return Outbox(path, deliver, backoff_start=0.001, backoff_cap=0.01)


async def put_usage(outbox: Outbox, count: int, **body: Any) -> list[Report]:
    return [
        await outbox.put("donna", "POST", USAGE, {"input_tokens": i, "output_tokens": 1} | body)
        for i in range(count)
    ]


def test_order_is_kept_across_a_transient_failure(tmp_path: Path) -> None:
    async def scenario() -> None:
        plane = FakeControlPlane()
        outbox = fast(tmp_path / "outbox.db", plane)
        first, second, third = await put_usage(outbox, 3)
        plane.script[second.body["id"]] = [ConnectionError("refused"), DeliveryResult.retry()]
        assert await outbox.drain(timeout=10) == 0
        ids = [r.body["id"] for r in (first, second, third)]
        assert plane.attempts == [ids[0], ids[1], ids[1], ids[1], ids[2]]
        assert [r.seq for r in plane.delivered] == [1, 2, 3]
        outbox.close()

    asyncio.run(scenario())


def test_a_rejected_report_is_set_aside_with_its_error_and_does_not_block(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        plane = FakeControlPlane()
        outbox = fast(tmp_path / "outbox.db", plane)
        reports = await put_usage(outbox, 3)
        plane.script[reports[1].body["id"]] = [DeliveryResult.rejected(422, "no task #9")]
        with caplog.at_level(logging.WARNING, logger="mcos.client.outbox"):
            assert await outbox.drain(timeout=10) == 0
        assert [r.seq for r in plane.delivered] == [1, 3]
        (kept,) = outbox.rejected()
        assert (kept.report, kept.status, kept.error) == (reports[1], 422, "no task #9")
        assert "rejected: HTTP 422 no task #9" in caplog.text
        outbox.close()
        assert outbox.rejected() == [kept]  # kept in the file, readable after close

    asyncio.run(scenario())


def test_a_report_the_server_fails_on_every_time_is_set_aside_and_told(tmp_path: Path) -> None:
    async def scenario() -> None:
        plane = FakeControlPlane()
        told: list[RejectedReport] = []

        async def tell(rejected: RejectedReport) -> None:
            told.append(rejected)

        outbox = Outbox(
            tmp_path / "outbox.db",
            plane,
            backoff_start=0.001,
            backoff_cap=0.01,
            on_set_aside=tell,
        )
        reports = await put_usage(outbox, 3)
        poison = DeliveryResult.retry(500, "the control plane failed; the error is in its log")
        plane.script[reports[0].body["id"]] = [poison] * MAX_SERVER_ERRORS
        # An outage is not the server failing on the report: no answer never sets one aside.
        plane.script[reports[1].body["id"]] = [DeliveryResult.retry()] * (MAX_SERVER_ERRORS * 3)
        assert await outbox.drain(timeout=10) == 0
        assert [r.seq for r in plane.delivered] == [2, 3], "the reports behind it arrived"
        attempts = plane.attempts.count(reports[0].body["id"])
        assert attempts == MAX_SERVER_ERRORS
        (kept,) = outbox.rejected()
        assert kept.report == reports[0] and kept.status == 500
        assert kept.error == "the control plane failed; the error is in its log (5 times)"
        assert [(t.report, t.status, t.error) for t in told] == [(kept.report, 500, kept.error)]
        outbox.close()

    asyncio.run(scenario())


def test_a_restart_resumes_in_order_with_the_same_ids(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"

    async def before_the_crash() -> tuple[str, list[Report]]:
        broken = FakeControlPlane({}, down=True)
        outbox = fast(path, broken)
        reports = await put_usage(outbox, 2)
        reports.append(await outbox.put("donna", "POST", USAGE, {"id": "mine-1", "x": 1}))
        broken.script[reports[0].body["id"]] = [RuntimeError("lost the answer")]
        assert await outbox.drain(timeout=0.05) == 3
        outbox.close()
        return outbox.outbox_id, reports

    async def after_the_restart(outbox_id: str, reports: list[Report]) -> None:
        plane = FakeControlPlane()
        outbox = fast(path, plane)
        assert (outbox.outbox_id, outbox.pending()) == (outbox_id, 3)
        assert await outbox.drain(timeout=10) == 0
        assert plane.delivered == reports
        assert [r.body["id"] for r in reports] == [f"{outbox_id}-1", f"{outbox_id}-2", "mine-1"]
        later = await outbox.put("donna", "POST", USAGE, {})
        outbox.close()
        # Every report was delivered and forgotten; still no seq (and so no id) is given twice.
        reopened = fast(path, plane)
        again = await reopened.put("donna", "POST", USAGE, {})
        assert (later.seq, again.seq, again.body["id"]) == (4, 5, f"{outbox_id}-5")
        reopened.close()
        other = fast(tmp_path / "other.db", plane)
        assert other.outbox_id != outbox_id
        other.close()

    asyncio.run(after_the_restart(*asyncio.run(before_the_crash())))


def test_concurrent_puts_land_with_distinct_increasing_seqs_and_share_commits(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        plane = FakeControlPlane()
        outbox = fast(tmp_path / "outbox.db", plane)
        delivering = asyncio.create_task(outbox.run())
        reports = await asyncio.gather(
            *(outbox.put(f"agent-{i % 7}", "POST", USAGE, {"n": i}) for i in range(500))
        )
        assert [r.seq for r in reports] == list(range(1, 501))
        assert len({r.body["id"] for r in reports}) == 500
        assert outbox.commits < 500  # group commit: many puts shared a transaction
        await asyncio.wait_for(plane.when_delivered(500), 10)  # run() was woken by put()
        assert sorted(plane.delivered, key=lambda r: r.seq) == reports
        for agent in {r.agent for r in reports}:  # in order for each agent
            mine = [r.seq for r in plane.delivered if r.agent == agent]
            assert mine == sorted(mine) and len(mine) >= 71
        assert await outbox.drain(timeout=10) == 0
        outbox.close()
        await asyncio.wait_for(delivering, 10)  # run() ends when the outbox closes

    asyncio.run(scenario())


def test_drain_returns_what_is_left_while_the_control_plane_stays_down(tmp_path: Path) -> None:
    async def scenario() -> None:
        plane = FakeControlPlane(down=True)
        outbox = fast(tmp_path / "outbox.db", plane)
        await put_usage(outbox, 4)
        assert await outbox.drain(timeout=0.05) == 4
        delivering = asyncio.create_task(outbox.run())
        assert await outbox.drain(timeout=0.05) == 4  # while run() is at it, too
        assert outbox.pending() == 4 and plane.delivered == []
        outbox.close()
        await asyncio.wait_for(delivering, 10)

    asyncio.run(scenario())


def test_backoff_doubles_from_half_a_second_to_thirty_with_jitter() -> None:
    for attempt in range(1, 40):
        ceiling = min(30.0, 0.5 * 2 ** (attempt - 1))
        delays = {backoff_delay(attempt) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (attempt, delays)
        assert len(delays) > 1  # jittered, so runners do not retry in step


def http_deliver(
    http: httpx.AsyncClient, tokens: dict[str, str], outcomes: list[str]
) -> Callable[[Report], Awaitable[DeliveryResult]]:
    async def deliver(report: Report) -> DeliveryResult:
        headers = {"Authorization": f"Bearer {tokens[report.agent]}"}
        try:
            response = await http.request(
                report.method, report.path, json=report.body, headers=headers
            )
        except httpx.TransportError:
            return DeliveryResult.retry()
        if response.status_code >= 500 or response.status_code == 429:
            return DeliveryResult.retry()
        result = DeliveryResult.delivered()
        if response.status_code >= 400:
            error = response.json()["error"]
            result = (
                DeliveryResult.duplicate()
                if error["code"] == "duplicate_id"
                else DeliveryResult.rejected(response.status_code, error["message"])
            )
        outcomes.append(result.kind)
        return result

    return deliver


def test_reports_reach_a_real_control_plane_once_even_when_delivered_twice(
    tmp_path: Path, database_url: str
) -> None:
    path, snapshot = tmp_path / "outbox.db", tmp_path / "snapshot.db"
    calls: list[dict[str, Any]] = [
        {"input_tokens": 1_000, "output_tokens": 10},
        {"input_tokens": 5, "output_tokens": 5, "model": "claude-9000"},  # no price: rejected
        {"input_tokens": 2_000, "output_tokens": 20},
        {"input_tokens": 3_000, "output_tokens": 30},
    ]
    with running_server(tmp_path, database_url) as server:
        tokens = {"donna": server.agent_token("donna")}
        server.stop()

        async def session(
            at: Path, seconds: float, outcomes: list[str], puts: list[dict[str, Any]]
        ) -> tuple[int, Outbox]:
            """Open the outbox at ``at``, put ``puts``, drain; returns what is left, closed."""
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
                outbox = Outbox(at, http_deliver(http, tokens, outcomes))
                for body in puts:
                    await outbox.put("donna", "POST", USAGE, body)
                left = await outbox.drain(timeout=seconds)
                outbox.close()
                return left, outbox

        left, _ = asyncio.run(session(path, 0.3, [], calls))
        assert left == 4  # the control plane is down: every report waits
        for part in tmp_path.glob("outbox.db*"):
            shutil.copy(part, tmp_path / part.name.replace("outbox", "snapshot"))

        server.start()
        first: list[str] = []
        assert asyncio.run(session(path, 30, first, []))[0] == 0
        assert first == ["delivered", "rejected", "delivered", "delivered"]
        # The snapshot still holds every report, as if the answers (or our deletes) were lost.
        again: list[str] = []
        left, replayed = asyncio.run(session(snapshot, 30, again, []))
        assert left == 0
        assert again == ["duplicate", "rejected", "duplicate", "duplicate"]
        (kept,) = replayed.rejected()
        assert kept.status == 422 and "claude-9000" in kept.error

        with server.client() as operator:
            summary = operator.get("/api/v1/usage").json()
            donna = next(a for a in summary["agents"] if a["agent"] == "donna")
            assert donna["spent"]["daily_tokens"] == 1_010 + 2_020 + 3_030
            assert [m["calls"] for m in summary["models_this_month"]] == [3]
            events = operator.get("/api/v1/events", params={"types": "usage.recorded"}).json()
            assert len(events["events"]) == 3


def test_a_report_set_aside_shows_on_the_agents_card(tmp_path: Path) -> None:
    """The runner's wiring, against a real control plane: refused for good, set aside, and the
    operator sees it on the agent (and `mcos agents show`), not in a log nobody reads."""
    with running_server(tmp_path, f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}") as server:
        with server.client() as operator:
            runner = operator.post("/api/v1/tokens", json={"kind": "runner", "machine": "mac-mini"})
            token = runner.json()["token"]

        async def scenario() -> None:
            control_plane = ControlPlane(server.url)
            outbox: Outbox = Outbox(
                tmp_path / "outbox.db",
                lambda r: deliver(control_plane, {"donna": token}, r),
                on_set_aside=lambda rejected: tell_set_aside(outbox, rejected),
            )
            unknown = {"input_tokens": 5, "output_tokens": 5, "model": "claude-9000"}
            await outbox.put("donna", "POST", USAGE, unknown)
            await outbox.put("donna", "POST", USAGE, {"input_tokens": 7, "output_tokens": 1})
            assert await outbox.drain(timeout=30) == 0
            outbox.close()
            await control_plane.aclose()

        asyncio.run(scenario())
        with server.client() as operator:
            donna = operator.get("/api/v1/agents/donna").json()
            used = operator.get("/api/v1/usage").json()
        assert donna["set_aside_reports"] == 1
        assert donna["last_set_aside"]["path"] == USAGE
        assert donna["last_set_aside"]["status"] == 422
        [warning] = donna["warnings"]
        assert "1 report refused for good and set aside" in warning and "claude-9000" in warning
        spent = next(a for a in used["agents"] if a["agent"] == "donna")
        assert spent["spent"]["daily_tokens"] == 8, "the report behind it arrived"
        shown = server.mcos("agents", "show", "donna").stdout
        assert "warning  1 report refused for good" in shown
        with server.agent("flow") as flow:
            other = flow.post(
                "/api/v1/agents/donna/set-aside",
                json={"method": "POST", "path": "/x", "status": 500, "error": "made up"},
            )
        assert other.status_code == 403


def test_text_the_control_plane_cannot_store_is_mended_not_lost(tmp_path: Path) -> None:
    """A model's answer with a NUL or a lone surrogate in it: the report keeps its text, with
    the character replaced, rather than being refused (or failing to be queued at all)."""
    assert storable({"body": "ok\x00", "parts": ["\udc80x"], "n": 3}) == {
        "body": "ok\ufffd",
        "parts": ["?x"],
        "n": 3,
    }

    async def scenario() -> None:
        plane = FakeControlPlane()
        outbox = fast(tmp_path / "outbox.db", plane)
        link = AgentLink("donna", "token", ControlPlane("http://127.0.0.1:9"), outbox)
        await link.report("POST", "/api/v1/tasks/1/comments", {"body": "done\x00 \udc80"})
        assert await outbox.drain(timeout=10) == 0
        [sent] = plane.delivered
        assert sent.body["body"] == "done\ufffd ?"
        outbox.close()
        await link.control_plane.aclose()

    asyncio.run(scenario())


def test_bundles_settle_what_they_can_and_a_lane_left_behind_goes_one_by_one_in_order(
    tmp_path: Path,
) -> None:
    """One request for what waits; a report the bundle leaves (``retry``) takes its agent's
    later reports with it to the one-by-one path, in order; other agents are not held up."""

    async def scenario() -> None:
        plane = FakeControlPlane()
        bundles: list[list[int]] = []

        async def many(reports: list[Report]) -> list[DeliveryResult] | None:
            bundles.append([r.seq for r in reports])
            return [answers[r.seq] for r in reports]

        outbox = Outbox(
            tmp_path / "outbox.db",
            plane,
            backoff_start=0.001,
            backoff_cap=0.01,
            deliver_many=many,
        )
        for n, agent in enumerate(["donna", "elon", "donna", "elon", "donna", "flow"]):
            await outbox.put(agent, "POST", USAGE, {"input_tokens": n, "output_tokens": 1})
        answers = {
            1: DeliveryResult.delivered(),  # donna
            2: DeliveryResult.duplicate(),  # elon: recorded before
            3: DeliveryResult.retry(),  # donna: left behind...
            4: DeliveryResult.rejected(422, "bad"),  # elon: set aside
            5: DeliveryResult.delivered(),  # donna: ...so this one waits for it
            6: DeliveryResult.delivered(),  # flow
        }
        assert await outbox.drain(timeout=10) == 0
        assert bundles == [[1, 2, 3, 4, 5, 6]]
        # Only donna's third and fifth went one by one, in that order.
        assert [r.seq for r in plane.delivered] == [3, 5]
        assert [(r.report.seq, r.status) for r in outbox.rejected()] == [(4, 422)]
        outbox.close()

    asyncio.run(scenario())


def test_a_bundle_that_cannot_be_sent_leaves_every_report_to_the_one_by_one_path(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        plane = FakeControlPlane()

        async def unsent(reports: list[Report]) -> list[DeliveryResult] | None:
            return None

        outbox = Outbox(tmp_path / "outbox.db", plane, deliver_many=unsent)
        await put_usage(outbox, 3)
        assert await outbox.drain(timeout=10) == 0
        assert [r.seq for r in plane.delivered] == [1, 2, 3]
        outbox.close()

    asyncio.run(scenario())


def test_a_put_whose_caller_is_cancelled_is_still_committed_delivered_and_counted_once(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        plane = FakeControlPlane()
        outbox = fast(tmp_path / "outbox.db", plane)
        hold = threading.Event()
        outbox._submit(lambda conn: (hold.wait(10), 0))  # the outbox's thread is busy
        putting = asyncio.create_task(outbox.put("donna", "POST", USAGE, {"n": 1}))
        await asyncio.sleep(0.01)
        putting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await putting
        hold.set()
        assert await outbox.drain(timeout=10) == 0
        assert [r.body["n"] for r in plane.delivered] == [1]
        assert outbox.pending_for("donna") == 0
        outbox.close()

    asyncio.run(scenario())


def test_a_queued_report_that_cannot_be_committed_fails_the_next_wait_and_is_uncounted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.db"

    async def scenario() -> None:
        plane = FakeControlPlane()
        outbox = fast(path, plane)
        link = AgentLink("donna", "token", ControlPlane("http://127.0.0.1:9"), outbox)
        link.queue("POST", USAGE, {"n": 1})
        await link.committed()
        # Another writer took the next seq: the outbox's own insert of it fails.
        with sqlite3.connect(path) as other:
            other.execute(
                "INSERT INTO reports VALUES (2, 'x', 'POST', '/x', '{}', 0)",
            )
        link.queue("POST", USAGE, {"n": 2})
        assert outbox.pending_for("donna") == 2
        with pytest.raises(sqlite3.IntegrityError):
            await link.committed()
        assert outbox.pending_for("donna") == 1
        await link.report("POST", USAGE, {"n": 3})  # nothing left over from the failure
        assert outbox.pending_for("donna") == 2
        outbox.close()
        await link.control_plane.aclose()

    asyncio.run(scenario())


def test_a_kept_value_is_committed_in_order_with_the_reports_and_read_back_after_a_restart(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.db"

    async def scenario() -> None:
        outbox = fast(path, FakeControlPlane(down=True))
        hold = threading.Event()
        outbox._submit(lambda conn: (hold.wait(10), 0))  # everything below waits behind this
        link = AgentLink("donna", "token", ControlPlane("http://127.0.0.1:9"), outbox)
        link.queue("POST", USAGE, {"n": 1})
        link.keep("state:donna", b'{"step": 1}')
        link.keep("state:donna", b'{"step": 2}')
        assert outbox.kept("state:donna") is None, "nothing is on disk before its commit"
        hold.set()
        await link.committed()
        with contextlib.closing(sqlite3.connect(path)) as other:
            assert other.execute("SELECT count(*) FROM reports").fetchone() == (1,)
        assert outbox.kept("state:donna") == b'{"step": 2}'
        assert outbox.kept("state:vega") is None
        with pytest.raises(TypeError, match="bytes, not str"):
            outbox.keep("state:donna", '{"step": 3}')  # type: ignore[arg-type]
        outbox.close()
        await link.control_plane.aclose()

    asyncio.run(scenario())
    reopened = fast(path, FakeControlPlane(down=True))
    try:
        assert reopened.kept("state:donna") == b'{"step": 2}'
        assert reopened.pending() == 1
    finally:
        reopened.close()
