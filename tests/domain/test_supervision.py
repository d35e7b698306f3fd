"""The supervision state machine: nudge, reassign, tell, then nothing until the agent recovers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mcos.domain.liveness import Liveness
from mcos.domain.supervision import Episode, Rules, Step, next_step, pick_peer

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
RULES = Rules(max_wake_attempts=2, interval_seconds=60)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run_episode(
    rules: Rules, *, can_reassign: bool, until: float = 600
) -> list[tuple[float, Step]]:
    """Tick every 5 s on a stalled agent, applying each step as the service would."""
    episode: Episode | None = None
    steps = []
    for second in range(0, int(until), 5):
        now = at(second)
        step = next_step(episode, Liveness.STALLED, now, rules, can_reassign=can_reassign)
        if step is None:
            continue
        steps.append((second, step))
        base = episode or Episode(started_at=now)
        episode = Episode(
            started_at=base.started_at,
            nudges=base.nudges + (step == Step.NUDGE),
            reassigned=base.reassigned or step == Step.REASSIGN,
            escalated=base.escalated or step == Step.ESCALATE,
            last_step_at=now,
        )
    return steps


def test_nudge_twice_then_reassign_then_tell_then_nothing() -> None:
    assert run_episode(RULES, can_reassign=True) == [
        (0, Step.NUDGE),
        (60, Step.NUDGE),
        (120, Step.REASSIGN),
        (180, Step.ESCALATE),
    ]


def test_without_a_same_role_agent_it_goes_straight_to_telling() -> None:
    assert run_episode(RULES, can_reassign=False) == [
        (0, Step.NUDGE),
        (60, Step.NUDGE),
        (120, Step.ESCALATE),
    ]


def test_reassign_off_and_no_wake_attempts() -> None:
    rules = Rules(max_wake_attempts=0, interval_seconds=60, reassign=False)
    assert run_episode(rules, can_reassign=True) == [(0, Step.ESCALATE)]
    rules = Rules(max_wake_attempts=0, interval_seconds=60)
    assert run_episode(rules, can_reassign=True) == [(0, Step.REASSIGN), (60, Step.ESCALATE)]


@pytest.mark.parametrize("liveness", [Liveness.WORKING, Liveness.IDLE, Liveness.COMPACTING])
def test_a_heartbeat_ends_the_episode_once(liveness: Liveness) -> None:
    escalated = Episode(T0, nudges=2, reassigned=True, escalated=True, last_step_at=at(180))
    assert next_step(escalated, liveness, at(200), RULES, can_reassign=True) == Step.RECOVER
    assert next_step(None, liveness, at(200), RULES, can_reassign=True) is None


def test_suspended_and_cooling_down_agents_are_left_alone() -> None:
    for liveness in (Liveness.SUSPENDED, Liveness.COOLING_DOWN):
        assert next_step(None, liveness, T0, RULES, can_reassign=True) is None
    # A budget pause during an episode is no recovery, and no reason to nudge either.
    open_episode = Episode(T0, nudges=1, last_step_at=T0)
    assert next_step(open_episode, Liveness.SUSPENDED, at(900), RULES, can_reassign=True) is None


def test_offline_is_supervised_like_stalled() -> None:
    assert next_step(None, Liveness.OFFLINE, T0, RULES, can_reassign=False) == Step.NUDGE


def test_the_least_loaded_peer_takes_the_work_ties_by_name() -> None:
    assert pick_peer({"scout": 2, "claw": 0, "pulse": 0}) == "claw"
    assert pick_peer({"scout": 1}) == "scout"
    assert pick_peer({}) is None
