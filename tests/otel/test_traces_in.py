"""OTLP traces in: the real OpenTelemetry SDK exporter against a real ``mcos serve``."""

from __future__ import annotations

import gzip
from decimal import Decimal
from typing import Any

import httpx
import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace.export import SpanExportResult

from mcos.fleet.loader import load_fleet
from mcos.pricing import price_call
from tests.fixtures.server import Server, running_server
from tests.otel.conftest import SpanRecorder, export

MODEL = "claude-sonnet-4-6"  # flow's model in the template fleet: priced by genai-prices


def usage_of(server: Server, agent: str) -> dict[str, Any]:
    with server.client() as operator:
        summary = operator.get("/api/v1/usage").json()
    found: dict[str, Any] = next(a for a in summary["agents"] if a["agent"] == agent)
    return found


def events(server: Server, types: str) -> list[dict[str, Any]]:
    with server.client() as operator:
        found: list[dict[str, Any]] = operator.get(
            "/api/v1/events", params={"types": types}
        ).json()["events"]
    return found


def price(server: Server, **tokens: int) -> float:
    fleet = load_fleet(server.fleet_dir)
    return float(price_call(fleet, "anthropic", MODEL, **tokens))


def test_sdk_spans_become_usage_spend_gauge_and_tool_calls(server: Server) -> None:
    token = server.agent_token("flow")
    recorder = SpanRecorder()
    with recorder.tracer.start_as_current_span(
        "invoke_agent flow",
        attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "flow"},
    ):
        # Chat spans without an agent attribute belong to the agent span above them.
        recorder.llm_call(None, MODEL, 1_200, 300)
        with recorder.tracer.start_as_current_span(
            "execute_tool read_file",
            attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "read_file"},
        ):
            pass
        recorder.llm_call(None, MODEL, 5_000, 80, **{"gen_ai.usage.cache_read.input_tokens": 4_000})
    assert export(server, token, recorder.spans()) == SpanExportResult.SUCCESS

    expected = price(server, input_tokens=1_200, output_tokens=300) + price(
        server, input_tokens=1_000, output_tokens=80, cache_read_tokens=4_000
    )
    flow = usage_of(server, "flow")
    assert flow["spent"]["daily_usd"] == pytest.approx(expected, rel=1e-6), (
        "spend is priced by the usage endpoint's table, cached tokens apart"
    )
    assert flow["spent"]["daily_tokens"] == 1_200 + 300 + 5_000 + 80
    recorded = events(server, "usage.recorded")
    assert [e["data"]["input_tokens"] for e in recorded] == [1_200, 1_000]
    assert {e["actor"] for e in recorded} == {"agent:flow"}
    assert recorded[-1]["data"]["gauge"]["tokens"] == 5_000, "the latest prompt is the gauge"
    with server.client() as operator:
        agent = operator.get("/api/v1/agents/flow").json()
    assert agent["gauge"]["tokens"] == 5_000
    tools = events(server, "agent.tool_called")
    assert [(e["data"]["agent"], e["data"]["tool"]) for e in tools] == [("flow", "read_file")]
    # The agent span itself is not a model call: its usage, if any, would count twice.
    assert len(recorded) == 2


def test_a_retried_export_is_not_counted_twice(server: Server) -> None:
    token = server.agent_token("flow")
    recorder = SpanRecorder(service_name="flow")  # the agent named by the resource only
    recorder.llm_call(None, MODEL, 100, 10)
    spans = recorder.spans()
    assert export(server, token, spans) == SpanExportResult.SUCCESS
    before = usage_of(server, "flow")["spent"]
    assert before["daily_tokens"] == 110
    assert export(server, token, spans) == SpanExportResult.SUCCESS, "a retry is accepted"
    assert usage_of(server, "flow")["spent"] == before, "and records nothing again"
    assert len(events(server, "usage.recorded")) == 1


def test_spans_for_an_agent_the_token_does_not_own_are_refused(server: Server) -> None:
    token = server.agent_token("flow")
    recorder = SpanRecorder()
    recorder.llm_call("donna", MODEL, 100, 10)
    assert export(server, token, recorder.spans()) == SpanExportResult.FAILURE
    assert usage_of(server, "donna")["spent"]["daily_tokens"] == 0
    [refusal] = events(server, "policy.decided")
    assert refusal["actor"] == "agent:flow"
    assert refusal["data"]["as_agent"] == "donna"
    assert refusal["data"]["outcome"] == "deny"

    # Mixed: flow's own span is taken, donna's refused, and OTLP's partial success says so.
    mixed = SpanRecorder()
    mixed.llm_call("flow", MODEL, 100, 10)
    mixed.llm_call("donna", MODEL, 100, 10)
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": []},
                "scopeSpans": [{"spans": [_json_span(s) for s in mixed.spans()]}],
            }
        ]
    }
    with server.client(token) as client:
        response = client.post("/v1/traces", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["partialSuccess"]["rejectedSpans"] in ("1", 1)
    assert "donna" in response.json()["partialSuccess"]["errorMessage"]
    assert usage_of(server, "flow")["spent"]["daily_tokens"] == 110
    assert usage_of(server, "donna")["spent"]["daily_tokens"] == 0


def test_a_runner_token_reports_for_its_machines_agents_only(server: Server) -> None:
    with server.client() as operator:
        response = operator.post("/api/v1/tokens", json={"kind": "runner", "machine": "velo"})
        runner = response.json()["token"]
    recorder = SpanRecorder()
    recorder.llm_call("flow", MODEL, 100, 10)  # flow runs on velo
    assert export(server, runner, recorder.spans()) == SpanExportResult.SUCCESS
    other = SpanRecorder()
    other.llm_call("donna", MODEL, 100, 10)  # donna runs on the Mac Mini
    assert export(server, runner, other.spans()) == SpanExportResult.FAILURE
    assert usage_of(server, "flow")["spent"]["daily_tokens"] == 110
    assert usage_of(server, "donna")["spent"]["daily_tokens"] == 0


def _json_span(span: Any) -> dict[str, Any]:
    """A span in the OTLP JSON encoding: hex ids, camelCase, numbers as strings or ints."""
    return {
        "traceId": f"{span.context.trace_id:032x}",
        "spanId": f"{span.context.span_id:016x}",
        "name": span.name,
        "kind": 3,
        "startTimeUnixNano": str(span.start_time),
        "endTimeUnixNano": str(span.end_time),
        "attributes": [
            {
                "key": key,
                "value": {"intValue": str(value)}
                if isinstance(value, int)
                else {"stringValue": value},
            }
            for key, value in span.attributes.items()
        ],
    }


def test_a_json_body(server: Server) -> None:
    token = server.agent_token("flow")
    recorder = SpanRecorder()
    recorder.llm_call("flow", MODEL, 700, 70)
    [span] = recorder.spans()
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [_json_span(span)]}]}]}
    with server.client(token) as client:
        response = client.post("/v1/traces", json=body)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert response.json() == {}
        again = client.post("/v1/traces", json=body)  # the same span id: a retry
        assert again.status_code == 200
    flow = usage_of(server, "flow")
    assert flow["spent"]["daily_tokens"] == 770
    expected = price(server, input_tokens=700, output_tokens=70)
    assert Decimal(str(flow["spent"]["daily_usd"])) == pytest.approx(Decimal(str(expected)))


def test_malformed_bodies_get_the_otlp_error_answer(server: Server) -> None:
    token = server.agent_token("flow")
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        garbage = client.post(
            "/v1/traces",
            content=b"\xff\xff\xff\xff not a protobuf",
            headers={"Content-Type": "application/x-protobuf"},
        )
        assert garbage.status_code == 400
        assert garbage.headers["content-type"] == "application/x-protobuf"
        status = Status.FromString(garbage.content)
        assert status.code == 3 and "protobuf" in status.message

        bad_json = client.post(
            "/v1/traces", content=b"{", headers={"Content-Type": "application/json"}
        )
        assert bad_json.status_code == 400
        assert bad_json.json()["code"] == 3
        assert bad_json.json()["error"]["code"] == "malformed_json"

        bad_id = client.post(
            "/v1/traces",
            json={"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]},
        )
        assert bad_id.status_code == 400 and "hex" in bad_id.json()["message"]

        wrong_type = client.post("/v1/traces", content=b"x", headers={"Content-Type": "text/plain"})
        assert wrong_type.status_code == 415 and wrong_type.json()["code"] == 3

    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        response = anonymous.post(
            "/v1/traces", content=b"", headers={"Content-Type": "application/x-protobuf"}
        )
        assert response.status_code == 401
        assert Status.FromString(response.content).code == 16
    assert events(server, "usage.recorded") == []


def test_an_empty_export_is_accepted(server: Server) -> None:
    token = server.agent_token("flow")
    with server.client(token) as client:
        response = client.post(
            "/v1/traces", content=b"", headers={"Content-Type": "application/x-protobuf"}
        )
    assert response.status_code == 200
    assert (
        ExportTraceServiceResponse.FromString(response.content).partial_success.rejected_spans == 0
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_oversized_bodies_get_413(tmp_path: Any, database_url: str) -> None:
    with running_server(tmp_path, database_url, {"MCOS_OTLP_MAX_BYTES": "2048"}) as server:
        token = server.agent_token("flow")
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            big = client.post(
                "/v1/traces",
                content=b"\x00" * 4096,
                headers={"Content-Type": "application/x-protobuf"},
            )
            assert big.status_code == 413
            assert Status.FromString(big.content).code == 8
            # Small on the wire, large once inflated: refused all the same.
            bomb = client.post(
                "/v1/traces",
                content=gzip.compress(b"\x00" * 100_000),
                headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
            )
            assert bomb.status_code == 413
            assert "decompressed" in Status.FromString(bomb.content).message
        recorder = SpanRecorder()
        recorder.llm_call("flow", MODEL, 10, 1)
        exporter_result = export(server, token, recorder.spans())
        assert exporter_result == SpanExportResult.SUCCESS, "a small export still goes through"


def test_a_provider_sdks_span_inside_a_frameworks_is_one_call(server: Server) -> None:
    """The Anthropic SDK traces its own calls: inside a framework's chat span, the same tokens
    arrive twice in one export, and are counted once."""
    token = server.agent_token("flow")
    recorder = SpanRecorder()
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.agent.name": "flow",
        "gen_ai.usage.input_tokens": 900,
        "gen_ai.usage.output_tokens": 90,
    }
    with (
        recorder.tracer.start_as_current_span("chat claude", attributes=attributes),
        recorder.tracer.start_as_current_span("anthropic.messages.create", attributes=attributes),
    ):
        pass
    assert export(server, token, recorder.spans()) == SpanExportResult.SUCCESS
    assert usage_of(server, "flow")["spent"]["daily_tokens"] == 990
