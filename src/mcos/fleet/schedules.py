"""The fleet file's ``[supervision]`` table and ``[[schedules]]``: what the control plane does
on its own. Checks that need the rest of the fleet (a known assignee, an orchestrator for the
briefing, unique names) are in :func:`schedule_problems`, called by the loader's cross-check.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from mcos.contract.vocab import ORCHESTRATOR, PriorityName
from mcos.domain.schedules import cron_problem
from mcos.fleet.model import FleetModel

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,31}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
BRIEFING_KIND = "briefing"


class Supervision(FleetModel):
    """How the control plane handles an agent that went silent: nudge, reassign, tell."""

    enabled: bool = True
    """Off: a silent agent is only shown as stalled or offline; nobody is nudged and nothing is
    reassigned."""
    max_wake_attempts: int = Field(2, ge=0, le=20)
    """Nudges per stall episode before its tasks are offered elsewhere."""
    nudge_every_seconds: float | None = Field(None, ge=1, le=86_400)
    """Time between steps; unset: the agent's ``stalled_after_seconds``."""
    reassign: bool = True
    """Offer a silent agent's open tasks to the least-loaded live agent of the same role."""


class Schedule(FleetModel):
    """One cron-style schedule, fired by the control plane in its own time zone."""

    name: Name
    """Unique among the schedules; shown in ``mcos schedules ls``."""
    cron: str
    """Five fields: minute hour day-of-month month day-of-week (``0 7 * * *``)."""
    timezone: str | None = None
    """IANA time zone of the cron fields; unset: the fleet's ``[fleet] timezone``."""
    action: Literal["task", "heartbeat", "memory_rollover", "briefing"]
    """``task`` (create a task), ``heartbeat`` (wake agents), ``memory_rollover`` (have agents write
    the day's notes) or ``briefing`` (the orchestrator's written briefing)."""
    title: str = Field("", max_length=300)
    """The task's title (``task``; ``briefing`` defaults to "Morning briefing")."""
    description: str = Field("", max_length=20_000)
    """The task's description (``task`` only)."""
    assignee: Name | None = None
    """Who gets the task (``task`` only; the briefing goes to the orchestrator)."""
    kind: Name | None = None
    """The task's kind of work, matched against the value ledger."""
    priority: PriorityName = "normal"
    """The task's priority: ``low``, ``normal``, ``high`` or ``urgent``."""
    start_within_minutes: float = Field(60, gt=0, le=7 * 24 * 60)
    """A task it created and not started this long after is flagged ``schedule.not_started``."""
    grace_minutes: float = Field(60, ge=0, le=7 * 24 * 60)
    """After downtime the newest missed run still fires if it is at most this late."""
    agents: tuple[Name, ...] = ()
    """``heartbeat`` / ``memory_rollover``: the agents to nudge."""
    roles: tuple[Name, ...] = ()
    """``heartbeat`` / ``memory_rollover``: nudge every agent of these roles as well."""

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        problem = cron_problem(value)
        if problem:
            raise ValueError(problem)
        return " ".join(value.split())

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        if value is None:
            return value
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as 'Africa/Johannesburg'"
            ) from None
        return value

    @model_validator(mode="after")
    def _fits_action(self) -> Schedule:
        if self.action == "task" and not self.title:
            raise ValueError(f"schedule {self.name!r} creates a task but has no title; add title")
        if self.action == "heartbeat" and not (self.agents or self.roles):
            raise ValueError(
                f"schedule {self.name!r} nudges nobody; list agents = [...] or roles = [...]"
            )
        if self.action != "task" and self.assignee is not None:
            raise ValueError(
                f"schedule {self.name!r} ({self.action}) has an assignee; remove it (only "
                "action = 'task' takes one; a briefing goes to the orchestrator)"
            )
        if self.action in ("task", "briefing") and (self.agents or self.roles):
            raise ValueError(
                f"schedule {self.name!r} ({self.action}) lists agents or roles to nudge; remove "
                "them, or use action = 'heartbeat'"
            )
        return self

    def zone(self, fleet_timezone: str) -> str:
        return self.timezone or fleet_timezone


def schedule_problems(
    schedules: tuple[Schedule, ...], agents: dict[str, str]
) -> list[tuple[str, str, str]]:
    """``(key, what is wrong, fix)`` for each schedule that does not fit the fleet's
    ``agents`` (name -> role)."""
    problems: list[tuple[str, str, str]] = []
    roles = set(agents.values())
    seen: set[str] = set()
    for i, schedule in enumerate(schedules):
        key = f"schedules[{i}]"
        if schedule.name in seen:
            problems.append(
                (f"{key}.name", f"schedule {schedule.name!r} is defined twice", "rename one")
            )
        seen.add(schedule.name)
        if schedule.assignee is not None and schedule.assignee not in agents:
            problems.append(
                (
                    f"{key}.assignee",
                    f"schedule {schedule.name!r} assigns its task to unknown agent "
                    f"{schedule.assignee!r}",
                    "name an agent of the fleet",
                )
            )
        for j, agent in enumerate(schedule.agents):
            if agent not in agents:
                problems.append((f"{key}.agents[{j}]", f"unknown agent {agent!r}", "name an agent"))
        for j, role in enumerate(schedule.roles):
            if role not in roles:
                problems.append(
                    (f"{key}.roles[{j}]", f"no agent has role {role!r}", "name an agent role")
                )
        if schedule.action == "briefing" and ORCHESTRATOR not in roles:
            problems.append(
                (
                    f"{key}.action",
                    f"schedule {schedule.name!r} creates the morning briefing for the "
                    f"orchestrator, but no agent has role {ORCHESTRATOR!r}",
                    f"give one agent role = {ORCHESTRATOR!r}, or remove this schedule",
                )
            )
    return problems
