"""A watched service's state, from its probes: ``up``, ``down`` or ``unknown``.

Pure: the runner feeds it each probe's outcome and reports only what it returns, a change.
One failed probe is not an outage (``failures_before_down`` in a row are); one good probe ends
one. A probe that cannot say (systemd absent) makes it ``unknown``, never down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

State = Literal["up", "down", "unknown"]
Recovery = Literal["auto", "agent", "operator", "self"]
"""How an outage ended: the watcher's own restart, the owning agent's remedy, an operator's
remedy, or by itself (nothing was done)."""
RECOVERIES: tuple[Recovery, ...] = ("auto", "agent", "operator", "self")
REMEDIATED: frozenset[str] = frozenset({"auto", "agent", "operator"})
"""Recoveries that count as an outage stopped: someone (or the watcher) did something."""


@dataclass(frozen=True)
class Probe:
    """One probe's outcome: ``ok`` (``None`` when the probe cannot tell), and what it saw."""

    ok: bool | None
    detail: str


@dataclass(frozen=True)
class Change:
    """A state change to report: from, to, when, and the probe that made it."""

    before: State
    after: State
    at: datetime
    failures: int
    detail: str


@dataclass
class Watched:
    """What the runner keeps of one service between probes."""

    failures_before_down: int
    state: State = "unknown"
    failures: int = 0
    """Failed probes in a row."""
    since: datetime | None = None
    last_probe: datetime | None = None

    def observe(self, probe: Probe, at: datetime) -> Change | None:
        """Take one probe's outcome; return the change it makes, if any."""
        self.last_probe = at
        if probe.ok is None:
            self.failures = 0
            return self._become("unknown", at, probe.detail)
        if probe.ok:
            self.failures = 0
            return self._become("up", at, probe.detail)
        self.failures += 1
        if self.failures >= self.failures_before_down:
            return self._become("down", at, probe.detail)
        return None

    def _become(self, state: State, at: datetime, detail: str) -> Change | None:
        if state == self.state:
            return None
        change = Change(self.state, state, at, self.failures, detail)
        self.state, self.since = state, at
        return change


def uptime_ratio(window_seconds: float, down_seconds: float) -> float:
    """The share of ``window_seconds`` a service was not down, in [0, 1]."""
    if window_seconds <= 0:
        return 1.0
    return max(0.0, min(1.0, 1 - down_seconds / window_seconds))
