"""What the server acknowledged survives SIGKILL: no shutdown hook is needed to keep it."""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.fixtures.server import Server

AGENTS = ("donna", "elon", "flow", "gene")


@dataclass
class Acknowledged:
    """What the server answered 2xx for, as the client can look it up again."""

    heartbeat_seqs: dict[int, str] = field(default_factory=dict)
    """Event seq of each heartbeat -> the agent it was for."""
    event_seqs: dict[int, str] = field(default_factory=dict)
    """Event seq of each posted event -> its client id (also kept in its data)."""
    messages: dict[int, str] = field(default_factory=dict)
    """Message id -> body."""

    def add_batch(self, batch: dict[str, Any], answer: dict[str, Any]) -> None:
        for sent, result in zip(batch.get("heartbeats", []), answer["heartbeats"], strict=True):
            self.heartbeat_seqs[result["seq"]] = sent["agent"]
        for sent, result in zip(batch.get("messages", []), answer["messages"], strict=True):
            self.messages[result["message_id"]] = sent["body"]
        for sent, result in zip(batch.get("events", []), answer["events"], strict=True):
            self.event_seqs[result["seq"]] = sent["id"]

    def merge(self, other: Acknowledged) -> None:
        self.heartbeat_seqs |= other.heartbeat_seqs
        self.event_seqs |= other.event_seqs
        self.messages |= other.messages


def _heartbeat(n: int, agent: str) -> dict[str, Any]:
    return {"id": f"hb-{n}", "agent": agent, "status": "working", "note": f"note {n}"}


def _message(n: int) -> dict[str, Any]:
    return {"id": f"msg-{n}", "to": "jarvis", "kind": "report", "body": f"report {n}"}


def _event(n: int) -> dict[str, Any]:
    return {"id": f"ev-{n}", "type": "runtime.step_done", "data": {"client_id": f"ev-{n}"}}


def _send_one(client: httpx.Client, n: int, acked: Acknowledged) -> None:
    """One request of four kinds by ``n``; records it in ``acked`` if the server said 2xx."""
    kind = n % 4
    if kind == 0:
        agent = AGENTS[n % len(AGENTS)]
        body = _heartbeat(n, agent)
        del body["agent"]
        response = client.post(f"/api/v1/agents/{agent}/heartbeat", json=body)
        if response.is_success:
            acked.heartbeat_seqs[response.json()["seq"]] = agent
    elif kind == 1:
        response = client.post("/api/v1/messages", json=_message(n))
        if response.is_success:
            acked.messages[response.json()["id"]] = f"report {n}"
    elif kind == 2:
        response = client.post("/api/v1/events", json=_event(n))
        if response.is_success:
            acked.event_seqs[response.json()["seq"]] = f"ev-{n}"
    else:
        batch = {
            "heartbeats": [_heartbeat(n, AGENTS[n % len(AGENTS)])],
            "messages": [_message(n)],
            "events": [_event(n), _event(n + 100_000)],
        }
        response = client.post("/api/v1/batch", json=batch)
        if response.is_success:
            acked.add_batch(batch, response.json())
    if response.is_success:
        return
    raise AssertionError(f"request {n} refused: {response.status_code} {response.text}")


def _assert_survived(server: Server, acked: Acknowledged) -> None:
    with server.client() as operator:
        log = operator.get("/api/v1/events", params={"limit": 10_000}).json()["events"]
        stored = operator.get("/api/v1/messages", params={"limit": 5_000}).json()["messages"]
    by_seq = {event["seq"]: event for event in log}
    assert len(log) < 10_000  # the page held the whole log
    missing = [seq for seq in acked.heartbeat_seqs | acked.event_seqs if seq not in by_seq]
    assert missing == []
    for seq, agent in acked.heartbeat_seqs.items():
        assert (by_seq[seq]["type"], by_seq[seq]["subject"]) == (
            "agent.heartbeat",
            f"agent:{agent}",
        )
    for seq, client_id in acked.event_seqs.items():
        assert by_seq[seq]["type"] == "runtime.step_done"
        assert by_seq[seq]["data"] == {"client_id": client_id}
    bodies = {message["id"]: message["body"] for message in stored}
    assert {i: bodies.get(i) for i in acked.messages} == acked.messages


def test_acknowledged_writes_survive_sigkill(server: Server) -> None:
    """Two kills on one server: after calm single and batch writes, then in the middle of load."""
    _kill_after_sequential_writes(server)
    _kill_in_the_middle_of_concurrent_writes(server)


def _kill_after_sequential_writes(server: Server) -> None:
    acked = Acknowledged()
    batches = [
        {
            "heartbeats": [_heartbeat(1_000 + 10 * b + n, "elon") for n in range(5)],
            "messages": [_message(1_000 + 10 * b + n) for n in range(5)],
            "events": [_event(1_000 + 10 * b + n) for n in range(10)],
        }
        for b in range(2)
    ]
    with server.client() as operator:
        for n in range(10):
            for kind in (0, 1, 2):  # one heartbeat (for donna), message and event each
                _send_one(operator, n * 4 + kind, acked)
        for batch in batches:
            answer = operator.post("/api/v1/batch", json=batch)
            assert answer.status_code == 200, answer.text
            acked.add_batch(batch, answer.json())
        before = {a: operator.get(f"/api/v1/agents/{a}").json() for a in ("donna", "elon")}

    server.kill()
    server.start()

    _assert_survived(server, acked)
    with server.client() as operator:
        after = {a: operator.get(f"/api/v1/agents/{a}").json() for a in ("donna", "elon")}
        # The ids are remembered too: the retried batch and a retried event are duplicates.
        retried = operator.post("/api/v1/batch", json=batches[0]).json()["counts"]
        retried_event = operator.post("/api/v1/events", json=_event(2))
    for agent in ("donna", "elon"):
        assert after[agent]["heartbeats"] == before[agent]["heartbeats"]
        assert after[agent]["note"] == before[agent]["note"]
    assert (after["donna"]["heartbeats"], after["donna"]["note"]) == (10, "note 36")
    assert (after["elon"]["heartbeats"], after["elon"]["note"]) == (10, "note 1014")
    assert retried == {
        "heartbeats": {"created": 0, "duplicate": 5},
        "messages": {"created": 0, "duplicate": 5},
        "events": {"created": 0, "duplicate": 10},
    }
    assert retried_event.status_code == 409


def _kill_in_the_middle_of_concurrent_writes(server: Server) -> None:
    """~200 requests from 16 threads; SIGKILL once a third are answered; every 2xx survived."""
    per_request = [Acknowledged() for _ in range(200)]
    failed: list[BaseException] = []
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    with (
        httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {server.operator_token}"},
            timeout=30,
            limits=limits,
        ) as client,
        concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool,
    ):
        futures = [pool.submit(_send_one, client, 10_000 + n, per_request[n]) for n in range(200)]
        for answered, _ in enumerate(concurrent.futures.as_completed(futures), start=1):
            if answered == 70:
                server.kill()
        for future in futures:
            error = future.exception()
            if error is not None and not isinstance(error, httpx.TransportError):
                failed.append(error)
    assert failed == []  # before the kill, nothing was refused; after it, only the wire failed

    acked = Acknowledged()
    for one in per_request:
        acked.merge(one)
    assert len(acked.heartbeat_seqs) + len(acked.event_seqs) + len(acked.messages) >= 70
    server.start()
    _assert_survived(server, acked)
    with server.client() as operator:
        counts = {a: operator.get(f"/api/v1/agents/{a}").json()["heartbeats"] for a in AGENTS}
    for agent in AGENTS:
        assert counts[agent] >= sum(1 for a in acked.heartbeat_seqs.values() if a == agent)
