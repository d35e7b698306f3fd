from __future__ import annotations

from typing import Any

import httpx

from tests.fixtures.server import ControlPlane, error_of


def _client_events(client: httpx.Client) -> list[dict[str, Any]]:
    response = client.get("/api/v1/events", params={"types": "runtime.*"})
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def _message_bodies(client: httpx.Client) -> list[str]:
    response = client.get("/api/v1/messages")
    assert response.status_code == 200, response.text
    return [m["body"] for m in response.json()["messages"]]


def _heartbeats(client: httpx.Client, agent: str) -> int:
    count: int = client.get(f"/api/v1/agents/{agent}").json()["heartbeats"]
    return count


BATCH: dict[str, Any] = {
    "heartbeats": [
        {"id": "hb-donna-1", "agent": "donna", "status": "working", "note": "inbox"},
        {"id": "hb-elon-1", "agent": "elon", "context_tokens": 12_000},
        {"id": "hb-flow-1", "agent": "flow", "status": "idle"},
    ],
    "messages": [
        {"id": "msg-1", "to": "donna", "kind": "directive", "body": "Chase the invoice"},
        {"id": "msg-2", "channel": "ops", "body": "Deploy at five"},
        {"id": "msg-3", "fleet": True, "kind": "report", "body": "All green"},
    ],
    "events": [
        {"id": f"ev-{n}", "type": "runtime.tool_called", "subject": "agent:donna", "data": {"n": n}}
        for n in range(5)
    ],
}


def test_batches_are_idempotent_and_all_or_nothing(api: ControlPlane) -> None:
    """Two stories on one server (a server start is the expensive part)."""
    _a_retried_batch_records_nothing_twice(api)
    _a_batch_with_one_bad_item_writes_nothing(api)


def _a_retried_batch_records_nothing_twice(api: ControlPlane) -> None:
    with api.client() as operator:
        first = operator.post("/api/v1/batch", json=BATCH)
        assert first.status_code == 200, first.text
        answer = first.json()
        assert answer["counts"] == {
            "heartbeats": {"created": 3, "duplicate": 0},
            "messages": {"created": 3, "duplicate": 0},
            "events": {"created": 5, "duplicate": 0},
        }
        assert {
            item["status"] for kind in ("heartbeats", "messages", "events") for item in answer[kind]
        } == {"created"}

        again = operator.post("/api/v1/batch", json=BATCH)
        assert again.status_code == 200, again.text
        assert again.json()["counts"] == {
            "heartbeats": {"created": 0, "duplicate": 3},
            "messages": {"created": 0, "duplicate": 3},
            "events": {"created": 0, "duplicate": 5},
        }
        assert [m["status"] for m in again.json()["messages"]] == ["duplicate"] * 3

        # A retry that carries one new item records just that one.
        grown = {**BATCH, "events": [*BATCH["events"], {"id": "ev-5", "type": "runtime.done"}]}
        third = operator.post("/api/v1/batch", json=grown).json()
        assert third["counts"]["events"] == {"created": 1, "duplicate": 5}
        assert third["events"][-1]["status"] == "created"

        # An agent's batch: heartbeats name no agent, or its own; its ids are its own.
        with api.agent("jarvis") as jarvis:
            own = {
                "heartbeats": [
                    {"id": "hb-donna-1", "note": "routing"},
                    {"id": "j-2", "agent": "jarvis"},
                ],
                "messages": [{"id": "msg-1", "to": "donna", "body": "Stand-up moved"}],
            }
            assert jarvis.post("/api/v1/batch", json=own).json()["counts"]["heartbeats"] == {
                "created": 2,
                "duplicate": 0,
            }
            assert jarvis.post("/api/v1/batch", json=own).json()["counts"]["messages"] == {
                "created": 0,
                "duplicate": 1,
            }

        events = _client_events(operator)
        bodies = _message_bodies(operator)
        heartbeats = {
            name: _heartbeats(operator, name) for name in ("donna", "elon", "flow", "jarvis")
        }
        donna = operator.get("/api/v1/agents/donna").json()

        # The single endpoints share the ids: a retry there is refused by name.
        hb_retry = operator.post("/api/v1/agents/donna/heartbeat", json={"id": "hb-donna-1"})
        ev_retry = operator.post(
            "/api/v1/events", json={"id": "ev-0", "type": "runtime.tool_called"}
        )
        ev_new = operator.post("/api/v1/events", json={"id": "ev-new", "type": "runtime.x"})
        ev_new_retry = operator.post("/api/v1/events", json={"id": "ev-new", "type": "runtime.x"})
    assert [e["data"] for e in events] == [{"n": n} for n in range(5)] + [{}]
    assert [e["type"] for e in events] == ["runtime.tool_called"] * 5 + ["runtime.done"]
    assert bodies == ["Chase the invoice", "Deploy at five", "All green", "Stand-up moved"]
    assert heartbeats == {"donna": 1, "elon": 1, "flow": 1, "jarvis": 2}
    assert (donna["liveness"], donna["note"]) == ("working", "inbox")
    for retry in (hb_retry, ev_retry, ev_new_retry):
        assert retry.status_code == 409, retry.text
        assert (error_of(retry)["code"], error_of(retry)["field"]) == ("duplicate_id", "id")
    assert ev_new.status_code == 201, ev_new.text


def _a_batch_with_one_bad_item_writes_nothing(api: ControlPlane) -> None:
    def refused(batch: dict[str, Any], status: int, field: str) -> dict[str, Any]:
        response = operator.post("/api/v1/batch", json=batch)
        assert response.status_code == status, response.text
        error = error_of(response)
        assert error["field"] == field, error
        return error

    good_heartbeats = [{"id": f"hb-{n}", "agent": "donna"} for n in range(2)]
    good_messages = [{"id": "m-0", "to": "elon", "body": "hello"}]
    good_events = [{"id": "e-0", "type": "runtime.started"}]
    with api.client() as operator, api.agent("sentinel") as sentinel:

        def snapshot() -> tuple[list[dict[str, Any]], list[str], list[int]]:
            heartbeats = [_heartbeats(operator, name) for name in ("donna", "sentinel", "jarvis")]
            return _client_events(operator), _message_bodies(operator), heartbeats

        before = snapshot()
        twice = refused(
            {"events": [*good_events, {"id": "e-0", "type": "runtime.again"}]},
            422,
            "events[1].id",
        )
        assert "e-0" in twice["message"]
        # Ids are unique across the whole batch, not per list.
        refused(
            {"heartbeats": good_heartbeats, "events": [{"id": "hb-1", "type": "runtime.x"}]},
            422,
            "events[0].id",
        )
        unknown = refused(
            {
                "heartbeats": [*good_heartbeats, {"id": "hb-2", "agent": "nobody"}],
                "messages": good_messages,
                "events": good_events,
            },
            422,
            "heartbeats[2].agent",
        )
        assert "nobody" in unknown["message"]
        reserved = refused(
            {"heartbeats": good_heartbeats, "events": [{"id": "e-1", "type": "task.moved"}]},
            422,
            "events[0].type",
        )
        assert "task" in reserved["message"]
        refused(
            {
                "heartbeats": good_heartbeats,
                "messages": [*good_messages, {"id": "m-1", "to": "ghost", "body": "x"}],
                "events": good_events,
            },
            422,
            "messages[1].to",
        )
        # Found only while writing: sentinel's heartbeat and first message are rolled back.
        response = sentinel.post(
            "/api/v1/batch",
            json={
                "heartbeats": [{"id": "s-0", "note": "scanning"}],
                "messages": [
                    {"id": "s-1", "channel": "security", "body": "clean"},
                    {"id": "s-2", "channel": "legal", "body": "not a member"},
                ],
                "events": [{"id": "s-3", "type": "runtime.scan"}],
            },
        )
        assert response.status_code == 403
        assert error_of(response)["field"] == "messages[1].channel"
        other = sentinel.post(
            "/api/v1/batch",
            json={"heartbeats": [{"id": "s-4"}, {"id": "s-5", "agent": "jarvis"}]},
        )
        assert other.status_code == 403
        assert error_of(other)["field"] == "heartbeats[1].agent"
        refused({"heartbeats": [{"id": "o-1"}]}, 422, "heartbeats[0].agent")
        wrong_type = operator.post(
            "/api/v1/batch", json={"events": [{"id": "e-2", "type": "runtime.x", "data": [1]}]}
        )
        assert wrong_type.status_code == 422
        assert error_of(wrong_type)["field"] == "events[0].data"

        after = snapshot()
        # The ids of refused batches stay free: the corrected batch goes through whole.
        corrected = operator.post(
            "/api/v1/batch",
            json={"heartbeats": good_heartbeats, "messages": good_messages, "events": good_events},
        )
    assert after == before
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["counts"] == {
        "heartbeats": {"created": 2, "duplicate": 0},
        "messages": {"created": 1, "duplicate": 0},
        "events": {"created": 1, "duplicate": 0},
    }
