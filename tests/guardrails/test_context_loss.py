"""The seed's fourth failure: compaction lost three hours of decisions. Flush first, always."""

from __future__ import annotations

import json

from tests.fixtures.server import Server, error_of


def test_a_compaction_without_a_memory_flush_is_refused_and_flagged(server: Server) -> None:
    with server.agent("donna") as donna, server.client() as operator:
        refused = donna.post(
            "/api/v1/agents/donna/compactions",
            json={"tokens_before": 176_500, "tokens_after": 30_000},
        )
        assert refused.status_code == 409, refused.text
        error = error_of(refused)
        assert error["code"] == "flush_required" and "no memory flush ever" in error["message"]

        note = "- Apex's IC agreement for R85k/month: Jarvis approved the draft at 14:10"
        flushed = donna.post("/api/v1/agents/donna/memory", json={"content": note})
        assert flushed.status_code == 201
        done = donna.post(
            "/api/v1/agents/donna/compactions",
            json={"tokens_before": 176_500, "tokens_after": 30_000},
        )
        assert done.status_code == 201 and done.json()["compactions"] == 1
        again = donna.post(
            "/api/v1/agents/donna/compactions",
            json={"tokens_before": 170_000, "tokens_after": 28_000},
        )
        assert again.status_code == 409
        assert "since the last compaction" in error_of(again)["message"]
        # Another agent cannot report for Donna.
        with server.agent("flow") as flow:
            assert (
                flow.post("/api/v1/agents/donna/memory", json={"content": "x"}).status_code == 403
            )

        woke = donna.get("/api/v1/agents/donna/memory").json()["notes"]
        assert [n["content"] for n in woke] == [note]
        flags = operator.get("/api/v1/events", params={"types": "memory.*"}).json()["events"]
        assert [e["type"] for e in flags] == [
            "memory.compaction_refused",
            "memory.flushed",
            "memory.compacted",
            "memory.compaction_refused",
        ]
        shown = operator.get("/api/v1/agents/donna").json()
        assert shown["compactions"] == 1 and shown["gauge"]["tokens"] == 30_000

    assert note in server.mcos("memory", "ls", "donna").stdout
    listed = json.loads(server.mcos("memory", "ls", "donna", "--json").stdout)
    assert listed[0]["content"] == note
    assert "compactions  1 (last" in server.mcos("agents", "show", "donna").stdout
