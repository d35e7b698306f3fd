"""One model call with every guardrail around it: budget reserved before, usage recorded after,
a 429 honoured on the agent's one credential, transient errors retried with jitter.

The budget is reserved as a short local lease: the control plane's budget check answers what
has been spent against each limit, and the runtime may then spend up to a slice of what is left
for a minute without asking again, deducting each call's real cost. Every call's usage is
reported through the outbox, so the control plane's figures stay exact and it pauses an agent
that goes over, which the next check (or heartbeat) makes the agent obey.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from opentelemetry.trace import SpanKind, StatusCode

from mcos import telemetry
from mcos.client import ApiError, Unreachable
from mcos.contract import paths
from mcos.fleet.schema import Agent, Fleet
from mcos.pricing import UnknownModelPrice, price_call
from mcos.runtime.client import AgentLink
from mcos.runtime.providers.base import (
    ModelReply,
    ModelRequest,
    PermanentProviderError,
    Provider,
    ProviderError,
    RateLimited,
    ToolSpec,
    TransientProviderError,
    Turn,
)

log = logging.getLogger("mcos.runtime")
_tracer = telemetry.tracer("mcos.runtime")

LEASE_SECONDS = 60.0
LEASE_SHARE = 0.1
"""A lease takes at most this share of what is left under the tightest limit."""
RETRY_ATTEMPTS = 4
RETRY_BASE_SECONDS = 0.5
RETRY_CAP_SECONDS = 30.0


class Paused(Exception):
    """The control plane paused the agent (over budget) or refuses to let it spend."""


@dataclass
class CoolingDown(Exception):
    """The agent's credential was rate limited; nothing is sent before ``until`` (monotonic)."""

    until: float
    message: str


class TaskFailed(Exception):
    """A permanent provider error: retrying cannot help; the task fails with this message."""


def estimate_tokens(system: str, turns: Sequence[Turn], tools: Sequence[ToolSpec]) -> int:
    """A rough prompt size (4 characters a token) for the budget check before the call."""
    chars = len(system) + sum(
        len(t.text) + sum(len(c.arguments) for c in t.tool_calls) for t in turns
    )
    chars += sum(len(t.description) + len(orjson.dumps(t.parameters)) for t in tools)
    return math.ceil(chars / 4)


@dataclass
class BudgetLease:
    link: AgentLink
    usd: Decimal = Decimal(0)
    tokens: int = 0
    expires: float = 0.0
    unlimited: set[str] = field(default_factory=set)

    async def reserve(self, estimated_tokens: int, estimated_usd: Decimal) -> None:
        """Return when the call may go ahead; raise :class:`Paused` or :class:`CoolingDown`."""
        fits = ("usd" in self.unlimited or self.usd >= estimated_usd) and (
            "tokens" in self.unlimited or self.tokens >= estimated_tokens
        )
        if fits and time.monotonic() < self.expires:
            return
        body = {"estimated_tokens": estimated_tokens, "estimated_usd": float(estimated_usd)}
        try:
            answer = await self.link.ask("POST", paths.budget_check(self.link.name), body)
        except Unreachable:
            if fits:  # keep spending what was already leased, never more
                return
            raise
        except ApiError as exc:
            if exc.code == "cooling_down":
                raise CoolingDown(await self._cooldown_ends(), exc.message) from None
            raise Paused(exc.message) from None
        self._renew(answer)

    async def _cooldown_ends(self) -> float:
        """When the control plane's cooldown of this agent ends, on the monotonic clock."""
        agent = await self.link.ask("GET", paths.agent(self.link.name))
        until = agent.get("cooldown_until")
        if not until:
            return time.monotonic() + 1.0
        left = (datetime.fromisoformat(until) - datetime.now(UTC)).total_seconds()
        return time.monotonic() + max(left, 0.0) + 0.5

    def _renew(self, answer: dict[str, Any]) -> None:
        spent, budget = answer["spent"], answer["budget"]
        self.unlimited = set()
        room: dict[str, Decimal] = {}
        for unit in ("usd", "tokens"):
            left = [
                Decimal(str(budget[f"{period}_{unit}"])) - Decimal(str(spent[f"{period}_{unit}"]))
                for period in ("daily", "monthly")
                if budget.get(f"{period}_{unit}") is not None
            ]
            if left:
                room[unit] = max(Decimal(0), min(left)) * Decimal(str(LEASE_SHARE))
            else:
                self.unlimited.add(unit)
        self.usd = room.get("usd", Decimal(0))
        self.tokens = int(room.get("tokens", 0))
        self.expires = time.monotonic() + LEASE_SECONDS

    def spend(self, usd: Decimal, tokens: int) -> None:
        self.usd -= usd
        self.tokens -= tokens


@dataclass
class ModelCaller:
    """Calls one agent's model, under its budget, with its one credential."""

    fleet: Fleet
    agent: Agent
    provider: Provider
    link: AgentLink
    lease: BudgetLease = field(init=False)

    def __post_init__(self) -> None:
        self.lease = BudgetLease(self.link)

    def price(
        self, input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0
    ) -> Decimal:
        try:
            return price_call(
                self.fleet,
                self.agent.provider,
                self.agent.model,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cache_read_tokens=cache_read,
                cache_write_tokens=cache_write,
            )
        except UnknownModelPrice:
            return Decimal(0)  # the fleet loader refuses a model it cannot price

    async def call(
        self,
        system: str,
        turns: Sequence[Turn],
        tools: Sequence[ToolSpec] = (),
        *,
        task_id: int | None = None,
        max_tokens: int = 4_096,
    ) -> ModelReply:
        request = ModelRequest(self.agent.model, system, list(turns), list(tools), max_tokens)
        estimate = estimate_tokens(system, turns, tools)
        await self.lease.reserve(estimate + max_tokens, self.price(estimate, max_tokens // 4))
        for attempt in range(RETRY_ATTEMPTS + 1):
            started = time.perf_counter()
            try:
                reply = await self._complete(request)
            except RateLimited as exc:
                await self._cool_down(exc)
                raise CoolingDown(time.monotonic() + exc.retry_after, exc.message) from None
            except TransientProviderError as exc:
                if attempt == RETRY_ATTEMPTS:
                    raise
                # Full jitter: agents that failed together do not retry together.
                delay = random.uniform(0, min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2**attempt))
                log.info("%s: %s; retrying in %.1f s", self.agent.name, exc.message, delay)
                await asyncio.sleep(delay)
                continue
            except PermanentProviderError as exc:
                raise TaskFailed(f"{self.agent.provider} refused the call: {exc.message}") from None
            latency_ms = round((time.perf_counter() - started) * 1000)
            self._record(reply, latency_ms, task_id)
            return reply
        raise AssertionError("unreachable")  # pragma: no cover

    async def _complete(self, request: ModelRequest) -> ModelReply:
        """One attempt, traced as a GenAI ``chat`` span (mcos.telemetry): cached tokens are in
        ``gen_ai.usage.input_tokens``, as the conventions count them."""
        attributes: dict[str, str | int] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": self.agent.provider,
            "gen_ai.agent.name": self.agent.name,
            "gen_ai.request.model": request.model,
            "gen_ai.request.max_tokens": request.max_tokens,
        }
        with _tracer.start_as_current_span(
            f"chat {request.model}", kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            try:
                reply = await self.provider.complete(request)
            except ProviderError as exc:
                span.set_status(StatusCode.ERROR, exc.message)
                span.set_attribute("error.type", type(exc).__name__)
                raise
            usage = reply.usage
            span.set_attributes(
                {
                    "gen_ai.response.model": reply.model,
                    "gen_ai.usage.input_tokens": usage.prompt_tokens,
                    "gen_ai.usage.output_tokens": usage.output_tokens,
                    "gen_ai.usage.cache_read.input_tokens": usage.cache_read_tokens,
                    "gen_ai.usage.cache_creation.input_tokens": usage.cache_write_tokens,
                }
            )
            if reply.stop_reason:
                span.set_attribute("gen_ai.response.finish_reasons", [reply.stop_reason])
            return reply

    def _record(self, reply: ModelReply, latency_ms: int, task_id: int | None) -> None:
        usage = reply.usage
        cost = self.price(
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_tokens,
            usage.cache_write_tokens,
        )
        self.lease.spend(cost, usage.prompt_tokens + usage.output_tokens)
        body: dict[str, Any] = {
            "model": self.agent.model,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cache_read_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
            "latency_ms": latency_ms,
        }
        if task_id is not None:
            body["task_id"] = task_id
        # Committed with what the step reports next, or before its state is saved: the
        # agent loop awaits ``link.committed()`` before either (see AgentLoop.save).
        self.link.queue("POST", paths.usage(self.agent.name), body)

    async def _cool_down(self, exc: RateLimited) -> None:
        """Tell the control plane this agent's one credential waits; never try another key."""
        log.warning(
            "%s: rate limited on %s; cooling down %.0f s",
            self.agent.name,
            self.agent.credential,
            exc.retry_after,
        )
        self.lease.expires = 0.0  # ask again once the cooldown is over
        await self.link.tell(
            "POST",
            paths.cooldown(self.agent.name),
            {"retry_after_seconds": exc.retry_after, "credential": self.agent.credential},
        )
