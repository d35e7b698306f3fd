"""OTLP traces in: GenAI spans become their agent's usage, gauge and tool-call events.

One export request is one unit of the writer: all it records commits together, or nothing
does. Each span is recorded under the idempotency key ``otlp:TRACE:SPAN`` of its agent
(``agent:NAME``, whoever sent it), so an exporter's retry records nothing twice and is answered
as accepted. Usage is priced and written by the usage endpoint's own functions
(:func:`mcos.services.budgets.record_calls`, then :func:`~mcos.services.budgets.settle_budget`
once per agent), so spend and budgets cannot differ by the door a call came in by.

A span is for the agent its attributes name (see :mod:`mcos.domain.genai_spans`), else the
resource's ``service.name`` when that is an agent of the fleet, else the token's own agent. An
agent token owns only its agent, a runner token its machine's, an operator every agent. A span
for an agent the token does not own is refused and the attempt is on the record (a
``policy.decided`` deny, as every impersonation is); the spans it does own are still recorded.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update

from mcos.domain import events as ev
from mcos.domain.gauge import ContextGauge
from mcos.domain.genai_spans import GenAISpan
from mcos.fleet.schema import Fleet
from mcos.pricing import UnknownModelPrice
from mcos.services.access import Principal
from mcos.services.budgets import Call, price_of, record_calls, settle_budget
from mcos.services.events import seen_client_ids
from mcos.storage import tables
from mcos.storage.writer import WriteContext

A = tables.agents


@dataclass
class Ingested:
    """What became of an export request's GenAI spans."""

    recorded: int = 0
    duplicates: int = 0
    """Recorded before (an exporter's retry): accepted, and not counted again."""
    refused: int = 0
    """Spans for an agent the token does not own."""
    rejected: int = 0
    """Every span not taken, the refused ones included."""
    problems: list[str] = field(default_factory=list)
    """Why spans were not taken, one line per reason (with a count)."""

    @property
    def message(self) -> str:
        return "; ".join(self.problems)


def _owns(fleet: Fleet, principal: Principal, agent: str) -> bool:
    if principal.is_operator:
        return True
    if principal.kind == "runner":
        config = fleet.agent(agent)
        return config is not None and config.machine == principal.machine
    return principal.name == agent


def _agent_for(fleet: Fleet, principal: Principal, span: GenAISpan) -> str | None:
    if span.agent is not None:
        return span.agent
    if span.service_name is not None and fleet.agent(span.service_name) is not None:
        return span.service_name
    return principal.name if principal.kind == "agent" else None


def ingest_spans(
    ctx: WriteContext, fleet: Fleet, principal: Principal, spans: list[GenAISpan]
) -> Ingested:
    """Record what ``principal`` may record of ``spans``; refuse the rest on the record."""
    result = Ingested()
    problems: Counter[str] = Counter()
    foreign: Counter[str] = Counter()
    mine: dict[str, dict[str, GenAISpan]] = defaultdict(dict)
    for span in spans:
        agent = _agent_for(fleet, principal, span)
        if agent is None:
            problems["no agent named (set gen_ai.agent.name or service.name)"] += 1
        elif fleet.agent(agent) is None:
            problems[f"no agent named {agent[:64]!r} in the fleet"] += 1
        elif not _owns(fleet, principal, agent):
            foreign[agent] += 1
        elif span.problem is not None:
            problems[span.problem] += 1
        else:
            mine[agent].setdefault(span.client_id, span)  # a span twice in one request: once
    rows = {
        row.name: row
        for row in ctx.conn.execute(select(A).where(A.c.name.in_(sorted(mine)), A.c.active))
    }
    for agent, by_id in mine.items():
        row = rows.get(agent)
        if row is None:
            problems[f"agent {agent!r} is no longer active"] += len(by_id)
            continue
        actor = f"agent:{agent}"
        seen = seen_client_ids(ctx.conn, actor, list(by_id))
        result.duplicates += len(seen)
        new = [span for client_id, span in by_id.items() if client_id not in seen]
        calls = _priced_calls(
            fleet, row, principal, [s for s in new if s.kind == "model"], problems
        )
        if calls:
            record_calls(ctx, actor, row, calls)
            settle_budget(ctx, fleet, row)
            gauge = next((c.extra["gauge"] for c, _ in calls if "gauge" in c.extra), None)
            if gauge is not None:
                # The gauge reads the latest prompt, as a heartbeat's context_tokens does.
                ctx.conn.execute(
                    update(A).where(A.c.name == agent).values(context_tokens=gauge["tokens"])
                )
        for span in new:
            if span.kind == "tool":
                ctx.append(
                    ev.AGENT_TOOL_CALLED,
                    actor,
                    f"agent:{agent}",
                    _span_data(agent, span, principal) | {"tool": span.tool, "failed": span.failed},
                    client_id=span.client_id,
                )
        result.recorded += len(calls) + sum(1 for s in new if s.kind == "tool")
    for agent, count in sorted(foreign.items()):
        _record_refusal(ctx, principal, agent, count)
        problems[f"this token may not report for agent {agent[:64]!r}"] += count
        result.refused += count
    result.rejected = sum(problems.values())
    result.problems = [
        f"{reason} ({count} span{'s' if count > 1 else ''})" for reason, count in problems.items()
    ]
    return result


def _record_refusal(ctx: WriteContext, principal: Principal, agent: str, count: int) -> None:
    """Who tried to report spans as whom: on the record, as every impersonation is."""
    ctx.append(
        ev.POLICY_DECIDED,
        principal.actor,
        f"{principal.kind}:{principal.name}",
        {
            "agent": principal.name,
            "as_agent": agent,
            "outcome": "deny",
            "rule": "impersonation" if principal.kind == "agent" else "other_machine",
            "action": {"kind": "otlp.export", "spans": count},
            "refused": f"this token may not report spans for agent {agent!r}",
            "code": "forbidden",
        },
    )


def _span_data(agent: str, span: GenAISpan, principal: Principal) -> dict[str, Any]:
    data: dict[str, Any] = {
        "agent": agent,
        "source": "otlp",
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "duration_ms": span.duration_ms,
    }
    if principal.actor != f"agent:{agent}":
        data["via"] = principal.actor  # who sent it, when not the agent itself
    return data


def _priced_calls(
    fleet: Fleet,
    row: Any,
    principal: Principal,
    spans: list[GenAISpan],
    problems: Counter[str],
) -> list[tuple[Call, Decimal]]:
    """Price each model call; the latest one's prompt size becomes the agent's gauge."""
    calls: list[tuple[Call, Decimal]] = []
    latest: tuple[int, int] | None = None
    for span in spans:
        call = Call(
            model=span.model or row.model,
            input_tokens=span.input_tokens,
            output_tokens=span.output_tokens,
            cache_read_tokens=span.cache_read_tokens,
            cache_write_tokens=span.cache_write_tokens,
            latency_ms=span.duration_ms,
            client_id=span.client_id,
            extra=_span_data(row.name, span, principal),
        )
        try:
            cost = price_of(fleet, row, call)
        except UnknownModelPrice as exc:
            problems[f'{exc}; add a [prices."{call.model}"] table to the fleet file'] += 1
            continue
        calls.append((call, cost))
        if latest is None or span.end_ns >= latest[0]:
            latest = (span.end_ns, len(calls) - 1)
    if latest is not None:
        index = latest[1]
        last, cost = calls[index]
        tokens = last.input_tokens + last.cache_read_tokens + last.cache_write_tokens
        gauge = ContextGauge(tokens, row.context_window, row.flush_line).as_dict()
        calls[index] = (replace(last, extra=last.extra | {"gauge": gauge}), cost)
    return calls
