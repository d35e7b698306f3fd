"""Liveness from heartbeat times: the server notices silence; boundaries are inclusive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mcos.domain.liveness import Liveness, derive_liveness

NOW = datetime(2026, 3, 14, 3, 0, tzinfo=UTC)
STALLED = 900
OFFLINE = 3_600
TICK = timedelta(microseconds=1)


def liveness(silence: timedelta | None, reported: str | None) -> Liveness:
    return derive_liveness(
        now=NOW,
        last_heartbeat_at=None if silence is None else NOW - silence,
        reported=reported,
        stalled_after_seconds=STALLED,
        offline_after_seconds=OFFLINE,
    )


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ("working", Liveness.WORKING),
        ("idle", Liveness.IDLE),
        ("compacting", Liveness.COMPACTING),
        (None, Liveness.IDLE),
    ],
)
def test_a_fresh_heartbeat_shows_what_the_agent_said(
    reported: str | None, expected: Liveness
) -> None:
    assert liveness(timedelta(0), reported) == expected
    assert liveness(timedelta(seconds=STALLED) - TICK, reported) == expected


@pytest.mark.parametrize("reported", ["working", "idle", "compacting", None])
def test_silence_beats_what_the_agent_said(reported: str | None) -> None:
    assert liveness(timedelta(seconds=STALLED), reported) == Liveness.STALLED
    assert liveness(timedelta(seconds=OFFLINE) - TICK, reported) == Liveness.STALLED
    assert liveness(timedelta(seconds=OFFLINE), reported) == Liveness.OFFLINE
    assert liveness(timedelta(days=3), reported) == Liveness.OFFLINE


@pytest.mark.parametrize("reported", ["working", None])
def test_an_agent_that_never_heartbeated_is_offline(reported: str | None) -> None:
    assert liveness(None, reported) == Liveness.OFFLINE


def test_thresholds_come_from_the_caller() -> None:
    # 700 s of silence: stalled for an agent with the template's tighter support override
    # (600 / 1800), still working under the fleet defaults (900 / 3600).
    def at_700_seconds(stalled: int, offline: int) -> Liveness:
        return derive_liveness(
            now=NOW,
            last_heartbeat_at=NOW - timedelta(seconds=700),
            reported="working",
            stalled_after_seconds=stalled,
            offline_after_seconds=offline,
        )

    assert at_700_seconds(600, 1_800) == Liveness.STALLED
    assert at_700_seconds(900, 3_600) == Liveness.WORKING
