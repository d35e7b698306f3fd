"""Supervision, pure: given one stall episode, the agent's liveness and the time, the next step.

An episode starts when an agent that has heartbeated before goes ``stalled`` or ``offline``.
Its steps, each spaced by ``interval`` from the previous one: nudge (up to
``max_wake_attempts`` times), offer its open tasks to a live agent of the same role (only when
there is one and it has open tasks), then tell the operator. After that nothing happens until
the agent heartbeats again, which ends the episode. A suspended agent (paused by its budget)
is not supervised: silence is what it was told to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from mcos.domain.liveness import Liveness

TROUBLED = frozenset({Liveness.STALLED, Liveness.OFFLINE})
LIVE = frozenset({Liveness.WORKING, Liveness.IDLE, Liveness.COMPACTING})
"""Liveness of an agent that may take over work (cooling down or suspended ones may not)."""


class Step(StrEnum):
    NUDGE = "nudge"
    REASSIGN = "reassign"
    ESCALATE = "escalate"
    RECOVER = "recover"


@dataclass(frozen=True)
class Episode:
    """Where one agent's current stall episode stands."""

    started_at: datetime
    nudges: int = 0
    reassigned: bool = False
    escalated: bool = False
    last_step_at: datetime | None = None


@dataclass(frozen=True)
class Rules:
    """The fleet file's ``[supervision]``, with the interval resolved for one agent."""

    max_wake_attempts: int
    interval_seconds: float
    """Time between steps: ``nudge_every_seconds``, or the agent's stalled threshold."""
    reassign: bool = True


def next_step(
    episode: Episode | None,
    liveness: Liveness,
    now: datetime,
    rules: Rules,
    *,
    can_reassign: bool,
) -> Step | None:
    """The step to take now, or ``None``; ``can_reassign``: a live peer and open tasks exist."""
    if liveness not in TROUBLED:
        return Step.RECOVER if episode is not None and liveness in LIVE else None
    if episode is None:
        return Step.NUDGE if rules.max_wake_attempts > 0 else _after_nudges(rules, can_reassign)
    if episode.escalated:
        return None
    if (
        episode.last_step_at is not None
        and (now - episode.last_step_at).total_seconds() < rules.interval_seconds
    ):
        return None
    if episode.nudges < rules.max_wake_attempts and not episode.reassigned:
        return Step.NUDGE
    if episode.reassigned:
        return Step.ESCALATE
    return _after_nudges(rules, can_reassign)


def _after_nudges(rules: Rules, can_reassign: bool) -> Step:
    return Step.REASSIGN if rules.reassign and can_reassign else Step.ESCALATE


def pick_peer(candidates: dict[str, int]) -> str | None:
    """The least-loaded candidate (open tasks per agent name); ties go to the first name."""
    if not candidates:
        return None
    return min(sorted(candidates), key=lambda name: candidates[name])
