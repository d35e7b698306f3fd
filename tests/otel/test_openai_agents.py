"""An OpenAI Agents SDK run becomes usage: its own tracing, mapped to OpenTelemetry by the
OpenInference instrumentation, exported by the SDK's OTLP exporter to a real ``mcos serve``.

The model is the wire-level fake OpenAI (chat completions) driven by the real ``openai`` SDK.
OpenInference is the instrumentation that carries a chat-completions call's token counts (the
GenAI-conventions one on PyPI sets them only for the Responses API), so ``/v1/traces`` reads its
``llm.token_count.*`` names beside the GenAI conventions' own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool
from openai import AsyncOpenAI
from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from mcos.fleet.loader import load_fleet
from mcos.pricing import price_call
from mcos.runtime.providers.simulated import Rule, Script, Step
from mcos.testing.fake_providers import FakeProviderServer
from tests.fixtures.server import Server

MODEL = "claude-sonnet-4-6"  # flow's model: the fake answers any name, the table prices this one


@function_tool
def lookup_order(order: str) -> str:
    """Where an order is."""
    return f"order {order} left the warehouse on Tuesday"


@pytest.fixture
def traced(server: Server) -> Iterator[TracerProvider]:
    """The Agents SDK's spans, as OTel spans, exported to ``server`` with flow's token."""
    token = server.agent_token("flow")
    provider = TracerProvider(resource=Resource.create({"service.name": "orders-bot"}))
    exporter = OTLPSpanExporter(
        endpoint=f"{server.url}/v1/traces", headers={"Authorization": f"Bearer {token}"}
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = OpenAIAgentsInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield provider
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


def test_an_agents_sdk_run_becomes_usage_and_tool_calls(
    server: Server, traced: TracerProvider
) -> None:
    script = Script(
        [
            Rule(
                steps=(
                    Step.call("lookup_order", {"order": "42"}, prompt_tokens=2_000),
                    Step.reply("Order 42 left on Tuesday.", prompt_tokens=2_600),
                )
            )
        ]
    )
    with FakeProviderServer() as fake:
        fake.set_script(script)

        async def run() -> Any:
            async with AsyncOpenAI(base_url=fake.openai_base_url, api_key="key-flow") as client:
                agent = Agent(
                    name="flow",  # the fleet's name for it: the span's agent.name
                    instructions="You answer questions about orders.",
                    tools=[lookup_order],
                    model=OpenAIChatCompletionsModel(model=MODEL, openai_client=client),
                )
                return await Runner.run(agent, "Where is order 42?")

        result = asyncio.run(run())
        calls = fake.requests
    assert "Tuesday" in str(result.final_output)
    assert len(calls) == 2
    traced.force_flush()

    with server.client() as operator:
        recorded: list[dict[str, Any]] = operator.get(
            "/api/v1/events", params={"types": "usage.recorded,agent.tool_called"}
        ).json()["events"]
        summary = operator.get("/api/v1/usage").json()
        gauge = operator.get("/api/v1/agents/flow").json()["gauge"]
    usage = [e["data"] for e in recorded if e["type"] == "usage.recorded"]
    tools = [e["data"] for e in recorded if e["type"] == "agent.tool_called"]
    assert [u["agent"] for u in usage] == ["flow", "flow"]
    prompts = sorted(u["input_tokens"] + u["cache_read_tokens"] for u in usage)
    assert prompts == [2_000, 2_600], "each model call of the run is one usage row"
    assert [t["tool"] for t in tools] == ["lookup_order"]
    fleet = load_fleet(server.fleet_dir)
    expected = sum(
        float(
            price_call(
                fleet,
                "anthropic",
                MODEL,
                input_tokens=u["input_tokens"],
                output_tokens=u["output_tokens"],
                cache_read_tokens=u["cache_read_tokens"],
            )
        )
        for u in usage
    )
    flow = next(a for a in summary["agents"] if a["agent"] == "flow")
    assert flow["spent"]["daily_usd"] == pytest.approx(expected) and expected > 0
    assert gauge["tokens"] == 2_600, "the run's last prompt is flow's gauge"
