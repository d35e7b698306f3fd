"""Reading GenAI spans out of an OTLP export: what is a model call, a tool call, whose it is."""

from __future__ import annotations

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from mcos.domain.genai_spans import read_genai_spans

TRACE = bytes(range(16))
AGENT = "gen_ai.agent.name"


def value(v: str | int | float) -> AnyValue:
    if isinstance(v, str):
        return AnyValue(string_value=v)
    if isinstance(v, float):
        return AnyValue(double_value=v)
    return AnyValue(int_value=v)


def span(number: int, parent: int = 0, **attributes: str | int | float) -> Span:
    return Span(
        trace_id=TRACE,
        span_id=number.to_bytes(8, "big"),
        parent_span_id=parent.to_bytes(8, "big") if parent else b"",
        name=f"span {number}",
        start_time_unix_nano=1_000_000_000,
        end_time_unix_nano=1_250_000_000 + number,
        attributes=[
            KeyValue(key=k.replace("__", "."), value=value(v)) for k, v in attributes.items()
        ],
    )


def export(*spans: Span, **resource: str) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(
                    attributes=[KeyValue(key=k, value=value(v)) for k, v in resource.items()]
                ),
                scope_spans=[ScopeSpans(spans=list(spans))],
            )
        ]
    )


CHAT = {"gen_ai__operation__name": "chat"}


def test_a_chat_span_is_a_model_call_with_cached_tokens_apart() -> None:
    found, total = read_genai_spans(
        export(
            span(
                1,
                **CHAT,
                gen_ai__agent__name="flow",
                gen_ai__request__model="a",
                gen_ai__response__model="b",
                gen_ai__usage__input_tokens=5_000,
                gen_ai__usage__output_tokens=80,
                gen_ai__usage__cache_read__input_tokens=4_000,
                gen_ai__usage__cache_creation__input_tokens=500,
            )
        ),
        AGENT,
    )
    [call] = found
    assert total == 1
    assert (call.kind, call.agent, call.model) == ("model", "flow", "b")
    assert (call.input_tokens, call.cache_read_tokens, call.cache_write_tokens) == (500, 4_000, 500)
    assert call.context_tokens == 5_000 and call.duration_ms == 250
    assert call.client_id == f"otlp:{TRACE.hex()}:{(1).to_bytes(8, 'big').hex()}"


def test_agent_spans_are_not_calls_and_name_their_children() -> None:
    found, _ = read_genai_spans(
        export(
            span(
                1,
                gen_ai__operation__name="invoke_agent",
                gen_ai__agent__name="flow",
                gen_ai__usage__input_tokens=9_999,  # a sum of its children: not counted again
                gen_ai__usage__output_tokens=9_999,
            ),
            span(2, 1, **CHAT, gen_ai__usage__input_tokens=10, gen_ai__usage__output_tokens=1),
            span(3, 1, gen_ai__operation__name="execute_tool", gen_ai__tool__name="grep"),
            span(4, 0, http__route="/x"),
        ),
        AGENT,
    )
    assert [(s.kind, s.agent, s.tool) for s in found] == [
        ("model", "flow", None),
        ("tool", "flow", "grep"),
    ]


def test_the_agent_attribute_is_configurable_and_the_resource_is_a_fallback() -> None:
    request = export(
        span(1, **CHAT, team__agent="gene", gen_ai__usage__output_tokens=1),
        span(2, **CHAT, gen_ai__usage__output_tokens=1),
        **{"service.name": "svc", "team.agent": "elon"},
    )
    found, _ = read_genai_spans(request, "team.agent")
    assert [(s.agent, s.service_name) for s in found] == [("gene", "svc"), ("elon", "svc")]


def test_bad_token_counts_refuse_the_span_not_the_request() -> None:
    found, _ = read_genai_spans(
        export(
            span(1, **CHAT, gen_ai__usage__input_tokens=-5),
            span(2, **CHAT, gen_ai__usage__input_tokens=1.5),
            span(3, **CHAT, gen_ai__usage__input_tokens="many"),
            span(4, **CHAT, gen_ai__usage__input_tokens=2.0, gen_ai__usage__output_tokens="7"),
        ),
        AGENT,
    )
    problems = [s.problem for s in found]
    assert problems[0] is not None and "outside" in problems[0]
    assert problems[1] is not None and "whole number" in problems[1]
    assert problems[2] is not None and "whole number" in problems[2]
    assert problems[3] is None and (found[3].input_tokens, found[3].output_tokens) == (2, 7)


def test_openinference_names_are_read_too() -> None:
    found, _ = read_genai_spans(
        export(
            span(1, openinference__span__kind="AGENT", agent__name="flow"),
            span(
                2,
                1,
                openinference__span__kind="LLM",
                llm__model_name="m",
                llm__token_count__prompt=300,
                llm__token_count__completion=30,
                llm__token_count__prompt_details__cache_read=100,
            ),
            span(3, 1, openinference__span__kind="TOOL", tool__name="lookup"),
        ),
        AGENT,
    )
    assert [(s.kind, s.agent) for s in found] == [("model", "flow"), ("tool", "flow")]
    assert (found[0].model, found[0].input_tokens, found[0].cache_read_tokens) == ("m", 200, 100)
    assert found[1].tool == "lookup"


def test_a_cycle_of_parent_ids_ends() -> None:
    found, _ = read_genai_spans(
        export(
            span(1, 2, **CHAT, gen_ai__usage__output_tokens=1),
            span(2, 1, gen_ai__operation__name="execute_tool"),
        ),
        AGENT,
    )
    assert [s.kind for s in found] == ["model", "tool"]
