"""OTLP helpers: spans made with the real OpenTelemetry SDK, sent by its real OTLP/HTTP exporter."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from tests.fixtures.server import Server


class SpanRecorder:
    """A tracer of its own (not the global one) whose finished spans are kept to be exported."""

    def __init__(self, service_name: str = "some-app") -> None:
        self.memory = InMemorySpanExporter()
        self.provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        self.provider.add_span_processor(SimpleSpanProcessor(self.memory))
        self.tracer: Tracer = self.provider.get_tracer("tests.otel")

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.memory.get_finished_spans()

    def llm_call(
        self, agent: str | None, model: str, input_tokens: int, output_tokens: int, **extra: int
    ) -> None:
        """One span per LLM call, as GenAI instrumentations make them."""
        attributes: dict[str, str | int] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": model,
            "gen_ai.response.model": model,
            "gen_ai.usage.input_tokens": input_tokens,
            "gen_ai.usage.output_tokens": output_tokens,
        } | extra
        if agent is not None:
            attributes["gen_ai.agent.name"] = agent
        with self.tracer.start_as_current_span(f"chat {model}", attributes=attributes):
            pass


def export(server: Server, token: str, spans: Sequence[ReadableSpan]) -> SpanExportResult:
    """Send ``spans`` with the SDK's OTLP/HTTP exporter, the bearer token in its headers."""
    exporter = OTLPSpanExporter(
        endpoint=f"{server.url}/v1/traces", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        return exporter.export(spans)
    finally:
        exporter.shutdown()
