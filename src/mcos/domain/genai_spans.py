"""OpenTelemetry spans read by the GenAI semantic conventions: model calls and tool calls.

Pure: it takes a decoded OTLP ``ExportTraceServiceRequest`` and returns neutral values; who owns
the agent, what the call costs and what is recorded are the service's (``services/otlp.py``).

- A **model call** is a span carrying token counts (``gen_ai.usage.input_tokens`` /
  ``output_tokens``, or the older ``prompt_tokens`` / ``completion_tokens``) whose
  ``gen_ai.operation.name`` is not an agent or tool operation: an ``invoke_agent`` span may sum
  its children's usage, and counting it too would bill every call twice.
- A **tool call** is a span whose ``gen_ai.operation.name`` is ``execute_tool``.
- A model call inside another model call of the same request (a framework's span around the
  provider SDK's own) is the same call: only the outer one counts. Across two requests the
  two cannot be matched; point one of them at this server, not both.
- Everything else (HTTP spans, agent spans) is ignored, not refused.

``gen_ai.usage.input_tokens`` counts every prompt token, cached ones included (the conventions
say so, and OpenAI reports it so); our usage rows count cached tokens apart, so the cache reads
and writes are taken out of it.

The agent of a span is the first found of: its own attribute (``gen_ai.agent.name``, or the
configured one), the nearest ancestor span of the same request that has it (chat spans of the
OpenAI Agents SDK sit under an ``invoke_agent`` span that names the agent), the resource's
attribute; else the resource's ``service.name`` is offered as a candidate that the service takes
only if it names an agent of the fleet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

OPERATION = "gen_ai.operation.name"
TOOL_NAMES = ("gen_ai.tool.name", "tool.name")
MODELS = ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name")
INPUT_TOKENS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")
OUTPUT_TOKENS = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
)
CACHE_READ_TOKENS = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "llm.token_count.prompt_details.cache_read",
)
CACHE_WRITE_TOKENS = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "llm.token_count.prompt_details.cache_write",
)
OPENINFERENCE_AGENT = "agent.name"
OPENINFERENCE_KIND = "openinference.span.kind"
OPENINFERENCE_OPERATIONS = {"LLM": "chat", "TOOL": "execute_tool", "AGENT": "invoke_agent"}
"""OpenInference's span kinds as GenAI operations: its OpenAI Agents SDK instrumentation is the
one that carries a chat-completions call's usage (see docs/otel.md), so its vocabulary
(``llm.token_count.*``, ``llm.model_name``, ``tool.name``, ``agent.name``) is read too, after
the GenAI conventions' own names."""
SERVICE_NAME = "service.name"
NOT_MODEL_CALLS = frozenset({"invoke_agent", "create_agent", "execute_tool", "handoff"})
MAX_TOKENS = 100_000_000
"""The usage endpoint's bound on one call's tokens; a span past it is refused, not clipped."""


class SpanProblem(ValueError):
    """A GenAI span this server cannot take (a bad token count); the span is refused."""


@dataclass(frozen=True)
class GenAISpan:
    """One model call or tool call, as the span told it."""

    kind: Literal["model", "tool"]
    trace_id: str
    """Hex, as in the OTLP JSON encoding."""
    span_id: str
    agent: str | None
    """From the agent attribute (the span's, an ancestor's or the resource's); None if absent."""
    service_name: str | None
    """The resource's ``service.name``: the agent when it names one of the fleet."""
    end_ns: int
    duration_ms: int
    failed: bool
    """The span's status is an error."""
    model: str | None = None
    """The response model, else the request model."""
    input_tokens: int = 0
    """Uncached prompt tokens (cache reads and writes taken out)."""
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    tool: str | None = None
    problem: str | None = None
    """Why this span is refused (a bad token count), or None."""

    @property
    def client_id(self) -> str:
        """The idempotency key of what it records: a retried export is recorded once."""
        return f"otlp:{self.trace_id}:{self.span_id}"

    @property
    def context_tokens(self) -> int:
        """The prompt's size, cached tokens included: the context gauge's reading."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens


def _value(value: AnyValue) -> str | int | float | bool | None:
    which = value.WhichOneof("value")
    if which in ("string_value", "int_value", "double_value", "bool_value"):
        found: str | int | float | bool = getattr(value, which)
        return found
    return None


Attributes = dict[str, str | int | float | bool | None]


def _attributes(pairs: Iterable[KeyValue]) -> Attributes:
    return {pair.key: _value(pair.value) for pair in pairs}


def _text(attributes: Attributes, *keys: str) -> str | None:
    for key in keys:
        value = attributes.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _tokens(attributes: Attributes, keys: tuple[str, ...]) -> int | None:
    for key in keys:
        if key not in attributes:
            continue
        value = attributes[key]
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpanProblem(f"{key} is {value!r}, not a whole number of tokens")
        if not 0 <= value <= MAX_TOKENS:
            raise SpanProblem(f"{key} is {value}, outside 0..{MAX_TOKENS}")
        return value
    return None


def read_genai_spans(
    request: ExportTraceServiceRequest, agent_attribute: str
) -> tuple[list[GenAISpan], int]:
    """The model and tool calls of an export request, and how many spans it held in all."""
    found: list[GenAISpan] = []
    total = 0
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        resource_agent = _text(resource, agent_attribute, OPENINFERENCE_AGENT)
        service = _text(resource, SERVICE_NAME)
        spans: list[tuple[Span, Attributes]] = [
            (span, _attributes(span.attributes))
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]
        total += len(spans)
        named = {
            (span.trace_id, span.span_id): _text(attrs, agent_attribute, OPENINFERENCE_AGENT)
            for span, attrs in spans
        }
        parents = {(span.trace_id, span.span_id): span.parent_span_id for span, _ in spans}
        read: list[tuple[Span, GenAISpan]] = []
        for span, attrs in spans:
            kind = _text(attrs, OPENINFERENCE_KIND)
            operation = _text(attrs, OPERATION) or OPENINFERENCE_OPERATIONS.get(kind or "")
            agent = _agent_of(span, named, parents) or resource_agent
            found_span = _read(span, attrs, operation, agent, service)
            if found_span is not None:
                read.append((span, found_span))
        calls = {(span.trace_id, span.span_id) for span, got in read if got.kind == "model"}
        found.extend(
            got
            for span, got in read
            if got.kind != "model" or not _under_a_model_call(span, calls, parents)
        )
    return found, total


def _under_a_model_call(
    span: Span, calls: set[tuple[bytes, bytes]], parents: dict[tuple[bytes, bytes], bytes]
) -> bool:
    """Whether an ancestor in the request is a model call too: a framework's span around the
    provider SDK's own (the Anthropic SDK traces its calls) is one call, counted once, by the
    outer span."""
    start = key = (span.trace_id, span.span_id)
    for _ in range(64):
        parent = parents.get(key)
        if not parent:
            return False
        key = (span.trace_id, parent)
        if key == start:  # a cycle of parent ids in a hostile payload
            return False
        if key in calls:
            return True
    return False


def _agent_of(
    span: Span,
    named: dict[tuple[bytes, bytes], str | None],
    parents: dict[tuple[bytes, bytes], bytes],
) -> str | None:
    key = (span.trace_id, span.span_id)
    for _ in range(64):  # a cycle of parent ids in a hostile payload ends here
        agent = named.get(key)
        if agent is not None:
            return agent
        parent = parents.get(key)
        if not parent:
            return None
        key = (span.trace_id, parent)
    return None


def _read(
    span: Span,
    attrs: Attributes,
    operation: str | None,
    agent: str | None,
    service: str | None,
) -> GenAISpan | None:
    base = GenAISpan(
        kind="model",
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        agent=agent,
        service_name=service,
        end_ns=span.end_time_unix_nano,
        duration_ms=max(0, span.end_time_unix_nano - span.start_time_unix_nano) // 1_000_000,
        failed=span.status.code == Status.STATUS_CODE_ERROR,
    )
    if operation == "execute_tool":
        tool = _text(attrs, *TOOL_NAMES) or span.name or "unknown"
        return replace(base, kind="tool", tool=tool[:200])
    if operation in NOT_MODEL_CALLS:
        return None
    if not any(key in attrs for key in INPUT_TOKENS + OUTPUT_TOKENS):
        return None
    model = _text(attrs, *MODELS)
    if model is not None and len(model) > 200:
        return replace(base, problem=f"the model name {model[:40]!r}... is over 200 characters")
    try:
        prompt = _tokens(attrs, INPUT_TOKENS) or 0
        output = _tokens(attrs, OUTPUT_TOKENS) or 0
        cache_read = _tokens(attrs, CACHE_READ_TOKENS) or 0
        cache_write = _tokens(attrs, CACHE_WRITE_TOKENS) or 0
    except SpanProblem as exc:
        return replace(base, model=model, problem=str(exc))
    return replace(
        base,
        model=model,
        # Cached tokens are part of input_tokens; a producer that counts them apart (so the
        # difference is negative) is taken at its word for the uncached part: none.
        input_tokens=max(0, prompt - cache_read - cache_write),
        output_tokens=output,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )
