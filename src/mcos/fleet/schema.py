"""The ``fleet.toml`` schema: machines, agents, channels, the escalation table, the value ledger.

Pure pydantic models for single values and sections; checks that span sections (an agent's
machine, a channel's members, a credential used twice) live in
:func:`mcos.fleet.loader.cross_check`, so a bad fleet file fails when ``mcos`` starts, with
the key and the fix, not at 3 a.m. A validator's message reads "what is wrong; how to fix it":
the loader shows the part after the last "; " as the fix.
"""

from __future__ import annotations

import functools
import re
from typing import Annotated, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mcos.contract.vocab import HUMAN, OPERATOR_NAME_PATTERN, ORCHESTRATOR, SEVERITIES
from mcos.fleet.costs import Costs
from mcos.fleet.guard import FleetGuard, Guard, merge_guards
from mcos.fleet.mail import Mail
from mcos.fleet.model import FleetModel
from mcos.fleet.notify import NotifyChannel
from mcos.fleet.sandbox import (
    AgentSandbox,
    Sandbox,
    SandboxKind,
    SandboxLimits,
    plain_absolute,
    plan_sandbox,
)
from mcos.fleet.schedules import Schedule, Supervision
from mcos.fleet.services import AnyService, Service

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,31}$"
ENV_VAR_PATTERN = r"^[A-Z][A-Z0-9_]{1,127}$"
OPERATOR = "operator"

Name = Annotated[str, Field(pattern=NAME_PATTERN)]

KNOWN_CAPABILITIES = frozenset(
    {
        "read",
        "plan",
        "write",
        "exec",
        "network",
        "email.send",
        "broadcast",
        "spend",
        "personal_data",
        "legal.draft",
        "workbooks",
    }
)
CAPABILITY_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$"
RUNNABLE_PROVIDERS = ("anthropic", "openai", "simulated")
"""The providers ``mcos run`` can call; an external agent may name any the price table knows."""
AgentRuntime = Literal["mcos", "external"]
"""Where an agent runs: ``mcos`` (by ``mcos run``) or ``external`` (another runtime, joining
through the API, MCP or OTLP with an agent token)."""


class FleetInfo(FleetModel):
    name: str = Field(min_length=1, max_length=100)
    """Shown in the dashboard header and the briefing."""
    timezone: str = "UTC"
    """IANA time zone for schedules and "today" in budgets and memory notes."""

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as 'Africa/Johannesburg'"
            ) from None
        return value


class ControlPlane(FleetModel):
    url: str = "http://127.0.0.1:8750"
    """Where runners and the CLI reach the control plane; ``mcos serve`` listens on its port."""
    database_url: str | None = None
    """SQLAlchemy URL; unset means the SQLite file ``mcos.db`` beside the fleet file."""

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+(:\d+)?/?$", value):
            raise ValueError(
                f"{value!r} is not an http(s) URL; use one such as 'http://127.0.0.1:8750'"
            )
        return value.rstrip("/")

    @property
    def host(self) -> str:
        """The control plane's host, as written in ``url``: no agent may ever fetch from it."""
        authority = self.url.split("://", 1)[1]
        if authority.startswith("["):
            return authority[1 : authority.index("]")]
        return authority.rsplit(":", 1)[0] if ":" in authority else authority


class Liveness(FleetModel):
    """How the server turns heartbeat times into liveness; every agent may override."""

    heartbeat_seconds: int = Field(300, ge=5, le=86_400)
    """How often an agent is expected to heartbeat."""
    stalled_after_seconds: int = Field(900, ge=10, le=7 * 86_400)
    """Silence longer than this makes an agent ``stalled``."""
    offline_after_seconds: int = Field(3_600, ge=20, le=30 * 86_400)
    """Silence longer than this makes an agent ``offline``."""

    @model_validator(mode="after")
    def _ordered(self) -> Liveness:
        if not self.heartbeat_seconds < self.stalled_after_seconds < self.offline_after_seconds:
            raise ValueError(
                f"thresholds out of order (heartbeat_seconds={self.heartbeat_seconds}, "
                f"stalled_after_seconds={self.stalled_after_seconds}, "
                f"offline_after_seconds={self.offline_after_seconds}); make "
                "heartbeat_seconds < stalled_after_seconds < offline_after_seconds"
            )
        return self


class Machine(FleetModel):
    name: Name
    """How agents, services and runner tokens name the machine (``vps``, ``mac-mini``); ``mcos run
    --machine`` takes it."""
    description: str = ""
    """A line shown in the dashboard (``Hetzner VPS``, ``Mac Mini, office``)."""
    sandbox: SandboxKind = "bubblewrap"
    """How agents' commands are confined on this machine: ``bubblewrap`` (Linux), or ``none``,
    an explicit opt-out for a machine without a sandbox (commands run unconfined; ``mcos fleet
    check`` warns for every agent with ``exec`` there)."""


class DeployTarget(FleetModel):
    """Somewhere a ``deploy`` tool may sync files to: a folder on one machine."""

    name: Name
    """How an agent's deploy asks for it."""
    machine: Name
    """The machine it is on."""
    path: str
    """The absolute folder files are synced into."""
    description: str = ""
    """What it is (a line for people reading the fleet file)."""

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        return plain_absolute(value)


class Budget(FleetModel):
    """Spend limits per agent; unset means no limit of that kind."""

    daily_usd: float | None = Field(None, ge=0)
    """Model spend per day (in the fleet's time zone), in US dollars. Over any limit the agent is
    paused, making no model call, until the limit is raised or the period turns."""
    monthly_usd: float | None = Field(None, ge=0)
    """Model spend per calendar month, in US dollars."""
    daily_tokens: int | None = Field(None, ge=0)
    """Tokens (in and out) per day."""
    monthly_tokens: int | None = Field(None, ge=0)
    """Tokens (in and out) per calendar month."""


class ContextPolicy(FleetModel):
    """Where the memory flush happens: at ``window - reserve_floor - soft_threshold`` tokens."""

    reserve_floor: int = Field(20_000, ge=0)
    """Tokens kept free for the compaction summary and the reply."""
    soft_threshold: int = Field(4_000, ge=0)
    """Tokens before the floor at which the memory flush turn runs."""


class Agent(FleetModel):
    name: Name
    """Stable identifier used in URLs, tokens and the CLI (lowercase)."""
    display_name: str = ""
    """Shown in the dashboard; defaults to the name, capitalised."""
    role: Name
    """What the agent is for (``orchestrator``, ``security``, ``communications``, ...)."""
    title: str = ""
    """A human title, such as "Executive Assistant & Orchestrator"."""
    machine: Name
    """The machine it runs on (one of ``[[machines]]``); that machine's runner runs it."""
    runtime: AgentRuntime = "mcos"
    """``mcos``: ``mcos run`` runs it on its machine. ``external``: it runs in another runtime
    (OpenClaw, an OpenAI Agents SDK or LangGraph program, an MCP client) and joins through the
    API, MCP or OTLP with an agent token; ``mcos run`` never starts it, and it needs no
    ``credential`` (its ``provider`` and ``model`` still price the usage it reports)."""
    provider: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    """``anthropic``, ``openai`` or ``simulated`` for an agent ``mcos run`` runs; an external
    agent may name any provider the price table knows (``google``, ``openrouter``, ...)."""
    model: str = Field(min_length=1, max_length=200)
    """The provider's model name (``claude-sonnet-4-6``, ``gpt-5``); it prices the usage."""
    credential: str | None = Field(None, pattern=ENV_VAR_PATTERN, validate_default=True)
    """Name of the environment variable holding this agent's one API key, never the key.
    Required unless ``runtime = "external"`` (that runtime holds its own key)."""
    base_url: str | None = Field(None, pattern=r"^https?://\S+$")
    """The provider's endpoint: an OpenAI-compatible server (Ollama, vLLM, LM Studio) or a
    proxy. Unset: the provider's own (or ``ANTHROPIC_BASE_URL`` / ``OPENAI_BASE_URL``)."""
    capabilities: tuple[str, ...] = ()
    """What it may do: ``read``, ``plan``, ``write``, ``exec``, ``network``, ``email.send``,
    ``broadcast``, ``spend``, ``personal_data``, ``legal.draft``, ``workbooks``. Everything else is
    refused before it happens."""
    context_window: int = Field(ge=1_000, le=10_000_000)
    """The model's context window in tokens: the gauge's 100%."""
    context: ContextPolicy = ContextPolicy()
    """When its memory is flushed before compaction."""
    budget: Budget = Budget()
    """Its spend limits."""
    liveness: Liveness | None = None
    """Overrides the fleet's ``[liveness]`` for this agent."""
    supervisor: str = OPERATOR
    """Agent name or ``operator``: who hears when this agent stalls or misbehaves."""
    channels: tuple[Name, ...] = ()
    """The channels it belongs to (each also lists it as a member)."""
    guard: Guard = Guard()
    """Adds to the fleet's ``[guard]``; see ``Fleet.guard_for``."""
    sandbox: AgentSandbox = AgentSandbox()
    """Overrides the fleet's ``[sandbox]`` limits; folders its commands may see."""

    @field_validator("capabilities")
    @classmethod
    def _capabilities(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for capability in value:
            if not re.match(CAPABILITY_PATTERN, capability):
                raise ValueError(
                    f"capability {capability!r} is not a dotted lowercase name; known ones are "
                    + ", ".join(sorted(KNOWN_CAPABILITIES))
                )
        if len(set(value)) != len(value):
            raise ValueError("a capability is listed twice; list each capability once")
        return value

    @field_validator("provider")
    @classmethod
    def _runnable_provider(cls, value: str, info: ValidationInfo) -> str:
        if value not in RUNNABLE_PROVIDERS and info.data.get("runtime", "mcos") == "mcos":
            raise ValueError(
                f"provider {value!r} is not one `mcos run` can call; use "
                + ", ".join(repr(p) for p in RUNNABLE_PROVIDERS)
                + ' (an OpenAI-compatible server is "openai" with base_url), or, if the agent '
                'runs in another runtime, set runtime = "external"'
            )
        return value

    @field_validator("credential")
    @classmethod
    def _credential_unless_external(cls, value: str | None, info: ValidationInfo) -> str | None:
        # ``runtime`` is declared before ``credential``, so it is validated by now.
        if value is None and info.data.get("runtime", "mcos") == "mcos":
            raise ValueError(
                'no credential: `mcos run` runs this agent (runtime = "mcos", the default) '
                "and calls its model with the one key it may use; add credential = "
                '"MCOS_<NAME>_<PROVIDER>_KEY" (the name of an environment variable, never '
                "the key), or, if the agent runs in another runtime (OpenClaw, an Agents SDK "
                'program, an MCP client), set runtime = "external"'
            )
        return value

    @model_validator(mode="after")
    def _fits_window(self) -> Agent:
        if self.flush_line <= 0:
            raise ValueError(
                f"context.reserve_floor + context.soft_threshold "
                f"({self.context.reserve_floor + self.context.soft_threshold}) must be below "
                f"context_window ({self.context_window}); lower context.reserve_floor or "
                "context.soft_threshold, or raise context_window"
            )
        return self

    @property
    def label(self) -> str:
        return self.display_name or self.name.capitalize()

    @property
    def external(self) -> bool:
        """Runs in another runtime: ``mcos run`` never starts it."""
        return self.runtime == "external"

    @property
    def key_variable(self) -> str:
        """The credential variable ``mcos run`` reads; only for agents it runs (which have one)."""
        if self.credential is None:
            raise ValueError(f"agent {self.name!r} is external and has no credential")
        return self.credential

    @property
    def flush_line(self) -> int:
        return self.context_window - self.context.reserve_floor - self.context.soft_threshold


class Channel(FleetModel):
    name: Name
    """Used in messages (``#ops``) and the CLI."""
    description: str = ""
    """What the channel is for."""
    members: tuple[Name, ...] = ()
    """The agents in it."""


class EscalationRule(FleetModel):
    confirm_by: tuple[str, ...] = ()
    """Roles (``security``, ``orchestrator``) and/or ``human`` who confirm before it spreads."""
    reach: Literal["self", "supervisor", "fleet"] = "fleet"
    """Who hears of it once confirmed: the reporter only, its supervisor, or the whole fleet."""
    human: str | None = Field(None, pattern=OPERATOR_NAME_PATTERN)
    """The one person (an operator's name, ``alice``) who gives the ``human`` confirmation;
    unset: any owner or approver. A viewer never can."""

    @model_validator(mode="after")
    def _human_confirms(self) -> EscalationRule:
        if self.human is not None and HUMAN not in self.confirm_by:
            raise ValueError(
                f"human = {self.human!r} names who gives the 'human' confirmation, but confirm_by "
                f"has no {HUMAN!r}; add it to confirm_by, or remove human"
            )
        return self


def _seed_escalation() -> dict[str, EscalationRule]:
    return {
        "P0": EscalationRule(confirm_by=(ORCHESTRATOR, HUMAN), reach="fleet"),
        "P1": EscalationRule(confirm_by=(ORCHESTRATOR,), reach="fleet"),
        "P2": EscalationRule(confirm_by=("security",), reach="fleet"),
        "P3": EscalationRule(confirm_by=(), reach="self"),
    }


class ValueRate(FleetModel):
    kind: Name
    """A kind of work, matched against a task's ``kind``."""
    minutes_saved: float = Field(gt=0)
    """Minutes of a person's work one accepted task of this kind saves."""
    hourly_rate: float = Field(gt=0)
    """What that person's hour costs, in ``currency``."""
    currency: str = Field("ZAR", pattern=r"^[A-Z]{3}$")
    """The rate's currency: USD, or one under ``[exchange_rates]``."""
    description: str = ""
    """A line shown in the ROI report."""


class ModelPrice(FleetModel):
    """Prices for a model the price table does not know (a local or fine-tuned model)."""

    input_per_mtok: float = Field(ge=0)
    """Input tokens, USD per million."""
    output_per_mtok: float = Field(ge=0)
    """Output tokens, USD per million."""
    cache_read_per_mtok: float = Field(0, ge=0)
    """Cached input read, USD per million."""
    cache_write_per_mtok: float = Field(0, ge=0)
    """Cache writes, USD per million."""


class RoutingMatch(FleetModel):
    """What a request must mention for a routing rule to apply: any keyword, or its kind."""

    keywords: tuple[str, ...] = ()
    """Words or phrases (case-insensitive, matched at the start of a word: ``deploy`` matches
    "deployment") looked for in the request's title and description."""
    kinds: tuple[Name, ...] = ()
    """Task kinds (``legal-document``) that match whatever the words."""

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for word in value:
            if not word.strip() or len(word) > 60:
                raise ValueError(
                    f"keyword {word!r} is empty or too long; use a word or short phrase"
                )
        return value

    @model_validator(mode="after")
    def _something(self) -> RoutingMatch:
        if not self.keywords and not self.kinds:
            raise ValueError(
                "a rule that matches nothing never routes; give match.keywords or match.kinds"
            )
        return self


class RoutingRule(FleetModel):
    """Where an incoming request goes: to the agent of ``role`` (or the pinned ``agent``)."""

    name: Name
    """Shown in ``mcos route --dry-run`` and on the routed task's history."""
    description: str = ""
    """Why the rule exists."""
    match: RoutingMatch
    """Which tasks it takes: any keyword in the title or description, or a kind listed."""
    role: Name | None = None
    """The role that handles such requests; the least loaded live agent of it is chosen."""
    agent: Name | None = None
    """Pin the rule to one agent (it must have ``role``, when both are given)."""
    capabilities: tuple[str, ...] = ()
    """Capabilities the chosen agent must hold, on top of any the request asks for."""
    priority: int = Field(0, ge=-1000, le=1000)
    """Among matching rules the highest priority wins; at equal priority, the later rule."""

    @model_validator(mode="after")
    def _target(self) -> RoutingRule:
        if self.role is None and self.agent is None:
            raise ValueError(f"rule {self.name!r} names no target; give it a role or an agent")
        return self


class Fleet(FleetModel):
    fleet: FleetInfo
    """The fleet's name and time zone."""
    control_plane: ControlPlane = ControlPlane()
    """Where the control plane is and which database it keeps."""
    liveness: Liveness = Liveness()
    """How silence becomes ``stalled`` and ``offline``, for every agent unless it overrides."""
    machines: tuple[Machine, ...] = Field(min_length=1)
    """The machines agents run on; each has its own runner (``mcos run --machine NAME``)."""
    agents: tuple[Agent, ...] = Field(min_length=1)
    """The agents, one table each."""
    channels: tuple[Channel, ...] = ()
    """Group channels agents message each other on."""
    escalation: dict[str, EscalationRule] = Field(default_factory=_seed_escalation)
    """Who must confirm an incident of each severity (``P0`` to ``P3``) before it reaches anyone,
    and how far it then goes. The default is the seed's: P0 by the orchestrator and a human, P1 by
    the orchestrator, P2 by security, P3 by nobody and to the reporter only."""
    value_ledger: tuple[ValueRate, ...] = ()
    """What accepted work of each kind is worth, for the ROI report."""
    exchange_rates: dict[str, float] = Field(default_factory=dict)
    """Units of a currency per US dollar (``ZAR = 19.0``): spend is in USD, value in these."""
    costs: Costs = Costs()
    """Fixed monthly costs (servers, Tailscale, domains), set against value with model spend."""
    prices: dict[str, ModelPrice] = Field(default_factory=dict)
    """Per model name, in USD per million tokens; overrides the maintained price table."""
    supervision: Supervision = Supervision()
    """What the control plane does on its own when an agent goes silent."""
    schedules: tuple[Schedule, ...] = ()
    """Cron-style runs: recurring tasks, heartbeats, the briefing, the memory rollover."""
    routing: tuple[RoutingRule, ...] = ()
    """How the orchestrator routes incoming requests; see ``mcos.domain.routing``."""
    guard: FleetGuard = FleetGuard()
    """Limits every agent's guard extends; by default, fetches reach no private address."""
    sandbox: SandboxLimits = SandboxLimits()
    """Limits on every shell command; an agent's ``[agents.sandbox]`` may override them."""
    deploy_targets: tuple[DeployTarget, ...] = ()
    """Where a ``deploy`` tool may sync files to."""
    mail: Mail = Mail()
    """The mailboxes agents watch, and the triage rules that override the model."""
    notify: tuple[NotifyChannel, ...] = ()
    """How Mission Control reaches the operator (mail, webhook, Telegram), and what each carries."""
    services: tuple[Service, ...] = ()
    """What machines run that agents watch: probes, severity, runbook (``fleet/services.py``)."""

    @field_validator("escalation")
    @classmethod
    def _all_severities(cls, value: dict[str, EscalationRule]) -> dict[str, EscalationRule]:
        unknown = sorted(set(value) - set(SEVERITIES))
        if unknown:
            raise ValueError(f"unknown severity {unknown[0]!r}; severities are P0, P1, P2, P3")
        missing = [s for s in SEVERITIES if s not in value]
        if missing:
            raise ValueError(
                f"severity {missing[0]} has no rule; add an [escalation.{missing[0]}] table "
                "(P0, P1, P2 and P3 each need one)"
            )
        return value

    @field_validator("exchange_rates")
    @classmethod
    def _rates(cls, value: dict[str, float]) -> dict[str, float]:
        for code, rate in value.items():
            if not re.fullmatch(r"[A-Z]{3}", code):
                raise ValueError(f"{code!r} is not a currency code; use three capitals: ZAR, EUR")
            if not rate > 0:
                raise ValueError(f"{code} = {rate}: a rate is units of {code} per US dollar, > 0")
        return value

    def usd_rate(self, currency: str) -> float | None:
        """Units of ``currency`` per US dollar, or ``None`` when the fleet file gives none."""
        return 1.0 if currency == "USD" else self.exchange_rates.get(currency)

    def agent(self, name: str) -> Agent | None:
        return self.agents_by_name.get(name)

    @functools.cached_property
    def agents_by_name(self) -> dict[str, Agent]:
        """Every request looks its agent up: a scan of 10,000 agents took 0.45 ms
        (``bench/scale.py``). The first of a duplicated name wins, as a scan would find it."""
        return {a.name: a for a in reversed(self.agents)}

    @functools.cached_property
    def machines_by_name(self) -> dict[str, Machine]:
        """A runner's token names its machine on every request (``api.auth``): a scan of 200
        machines took 38 µs (``bench/scale.py --profile``). The first of a name wins."""
        return {m.name: m for m in reversed(self.machines)}

    def machine(self, name: str) -> Machine | None:
        return self.machines_by_name.get(name)

    def service(self, name: str) -> AnyService | None:
        return next((s for s in self.services if s.name == name), None)

    def owner_of(self, service: AnyService) -> str | None:
        """The agent watching ``service``: its ``owner``, or else its machine's one agent of role
        ``infrastructure`` (``None`` when there is not exactly one; the loader refuses that)."""
        if service.owner is not None:
            return service.owner
        found = [
            a.name
            for a in self.agents
            if a.machine == service.machine and a.role == "infrastructure"
        ]
        return found[0] if len(found) == 1 else None

    def liveness_for(self, agent: Agent) -> Liveness:
        return agent.liveness or self.liveness

    @functools.cached_property
    def shortest_silence_seconds(self) -> int:
        """The shortest silence after which any agent is stalled or offline."""
        thresholds = [self.liveness, *(a.liveness for a in self.agents if a.liveness)]
        return min(min(t.stalled_after_seconds, t.offline_after_seconds) for t in thresholds)

    def guard_for(self, agent: Agent) -> Guard:
        """The guard that holds for ``agent``: the fleet's ``[guard]`` extended by its own
        (lists joined, the stricter of each limit). The one place the two are merged."""
        return merge_guards(self.guard, agent.guard)

    def sandbox_for(self, agent: Agent) -> Sandbox:
        """Where ``agent``'s commands run: its machine's sandbox, the fleet's limits with the
        agent's overrides, its extra folders, and the protected folders inside them to mask."""
        machine = self.machine(agent.machine)
        return plan_sandbox(
            self.sandbox,
            agent.sandbox,
            self.guard_for(agent),
            kind=machine.sandbox if machine is not None else "bubblewrap",
            network="network" in agent.capabilities,
        )
