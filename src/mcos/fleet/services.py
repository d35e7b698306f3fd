"""``[[services]]``: what a machine runs that an agent watches, how it is probed, and its runbook.

A service is probed by the runner on its ``machine`` (``mcos run --machine``), every
``every_seconds``, as ``http`` (status and body), ``tcp`` (a connection), ``process`` (a
pattern in the process list) or ``systemd`` (a unit's active state; ``unknown`` where there is
no systemd). ``failures_before_down`` failed probes in a row make it down: an incident at its
``severity`` through the escalation table, and a task for its ``owner`` with the runbook's
``diagnose`` output.

The runbook is the operator's own text, run on the host by the runner (never the agent's
commands, never in its sandbox). Remediation (``restart``, ``rollback``) is a gated action,
``service.restart`` / ``service.rollback``, decided by the control plane with the remedy's
``policy``: ``allow``, ``ask`` (an operator approves each time; the default) or ``deny``. On a
``production`` service a remedy whose command builds (:func:`is_build`) is refused unless
``allow_build = true``: the seed's Flow ran Next.js builds on the production server four times.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from mcos.contract.vocab import Severity
from mcos.fleet.model import FleetModel

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,31}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Policy = Literal["allow", "ask", "deny"]
Command = Annotated[str, Field(min_length=1, max_length=2_000)]
REMEDIES = ("restart", "rollback")

BUILD_PATTERN = re.compile(
    r"(^|[\s;&|(])("
    r"make|cmake|ninja|"
    r"(npm|pnpm|yarn|bun)\s+(run\s+)?build|npm\s+ci|next\s+build|npx\s+next\s+build|"
    r"docker(-compose|\s+compose)?\s+(build|buildx)|podman\s+build|"
    r"cargo\s+build|go\s+build|mvn\s+(package|install)|gradle\s+build|\./gradlew\s+build|"
    r"pip\s+install|python3?\s+-m\s+build|poetry\s+build"
    r")(\s|$|[;&|)])"
)
"""A command that builds: compilers and bundlers run on the host, the seed's Next.js builds on
production. Matched anywhere in the command line (``cd /srv/app && npm run build``)."""


def is_build(command: str) -> bool:
    """Whether ``command`` runs a build (``make``, ``npm run build``, ``docker build``, ...)."""
    return BUILD_PATTERN.search(command) is not None


class Remedy(FleetModel):
    """A remediation action of the runbook: its command, and whether it may run."""

    command: Command
    """Run on the service's machine with ``sh -c`` by the runner, outside any agent sandbox."""
    policy: Policy = "ask"
    """``allow``: carried out when asked; ``ask``: an operator approves each time; ``deny``."""
    timeout_seconds: float = Field(120, gt=0, le=3_600)
    """The command is stopped after this long."""


class Runbook(FleetModel):
    diagnose: tuple[Command, ...] = Field((), max_length=20)
    """Commands whose output is the diagnosis attached to the outage's task (run in order)."""
    diagnose_timeout_seconds: float = Field(20, gt=0, le=600)
    """Each diagnosis command is stopped after this long."""
    restart: Remedy | None = None
    """How to restart the service."""
    rollback: Remedy | None = None
    """How to roll it back to its last good version."""

    def remedy(self, name: str) -> Remedy | None:
        return self.restart if name == "restart" else self.rollback if name == "rollback" else None


class _Service(FleetModel):
    name: Name
    """Used in URLs, events and the CLI (``mcos services show NAME``)."""
    machine: Name
    """The machine whose runner probes it (and runs its runbook)."""
    owner: Name | None = None
    """The agent that watches it: gets the outage's task and may ask for its remedies. It must
    run on ``machine``. Unset: the machine's one agent of role ``infrastructure``."""
    description: str = Field("", max_length=500)
    """A line shown in ``mcos services ls`` and the dashboard."""
    every_seconds: float = Field(30, ge=0.2, le=86_400)
    """How often the runner probes it."""
    failures_before_down: int = Field(2, ge=1, le=100)
    """Failed probes in a row before it is down (one failure is often a blip)."""
    severity: Severity = "P2"
    """The incident's severity when it goes down; the escalation table decides who confirms."""
    production: bool = False
    """A production service: a remedy that builds is refused unless ``allow_build``."""
    allow_build: bool = False
    """For a production service: allow remedies that build (refused otherwise)."""
    auto_restart: bool = False
    """The runner restarts it itself once it is down (``restart.policy`` must be ``allow``),
    so a fleet without a live model still recovers; still asked and recorded as an action."""
    runbook: Runbook = Runbook()
    """What may be done when it is down."""

    @model_validator(mode="after")
    def _auto_restart(self) -> _Service:
        if self.auto_restart and (
            self.runbook.restart is None or self.runbook.restart.policy != "allow"
        ):
            raise ValueError(
                f"service {self.name!r}: auto_restart needs a restart the runner may do alone; "
                'give [services.runbook.restart] with policy = "allow", or drop auto_restart'
            )
        return self

    @property
    def remedies(self) -> dict[str, Remedy]:
        found = {"restart": self.runbook.restart, "rollback": self.runbook.rollback}
        return {k: v for k, v in found.items() if v is not None}

    def target(self) -> str:
        """What is probed, as the dashboard shows it."""
        raise NotImplementedError


class HttpService(_Service):
    kind: Literal["http"]
    """``http``: up when a GET answers an expected status."""
    url: str = Field(max_length=2_000, pattern=r"^https?://[^\s/]+\S*$")
    """What the runner GETs."""
    expect_status: tuple[int, ...] = (200,)
    """Any of these statuses is up (redirects are not followed)."""
    expect_body: str | None = Field(None, min_length=1, max_length=500)
    """Text the body must contain; ``re:`` before it makes it a regular expression."""
    timeout_seconds: float = Field(5, gt=0, le=120)
    """A probe with no answer after this long failed."""

    @field_validator("expect_status")
    @classmethod
    def _statuses(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(not 100 <= s <= 599 for s in value):
            raise ValueError(
                f"expect_status {list(value)} is not a list of HTTP statuses; give one or more "
                "of 100-599, such as [200, 204]"
            )
        return value

    @field_validator("expect_body")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is not None and value.startswith("re:"):
            try:
                re.compile(value[3:])
            except re.error as exc:
                raise ValueError(
                    f"expect_body {value!r} is not a valid regular expression ({exc}); fix it, "
                    "or drop the 're:' to match the text as it is"
                ) from None
        return value

    def target(self) -> str:
        return self.url


class TcpService(_Service):
    kind: Literal["tcp"]
    """``tcp``: up when a connection opens."""
    host: str = Field("127.0.0.1", min_length=1, max_length=253)
    """The host to connect to."""
    port: int = Field(ge=1, le=65_535)
    """The port to connect to."""
    timeout_seconds: float = Field(5, gt=0, le=120)
    """A probe with no connection after this long failed."""

    def target(self) -> str:
        return f"{self.host}:{self.port}"


class ProcessService(_Service):
    kind: Literal["process"]
    """``process``: up while a process whose command line matches runs on the machine."""
    pattern: str = Field(min_length=1, max_length=300)
    """A regular expression searched in each process's command line (as ``pgrep -f``)."""

    @field_validator("pattern")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(
                f"pattern {value!r} is not a valid regular expression ({exc}); fix it "
                r"(escape a literal dot or bracket with a backslash)"
            ) from None
        return value

    def target(self) -> str:
        return f"process /{self.pattern}/"


class SystemdService(_Service):
    kind: Literal["systemd"]
    """``systemd``: up while the unit is active (``systemctl is-active``)."""
    unit: str = Field(pattern=r"^[A-Za-z0-9:_.@\\-]+\.(service|socket|timer|target|mount)$")
    """The unit's full name (``nginx.service``)."""

    def target(self) -> str:
        return self.unit


Service = Annotated[
    HttpService | TcpService | ProcessService | SystemdService, Field(discriminator="kind")
]
AnyService = HttpService | TcpService | ProcessService | SystemdService
