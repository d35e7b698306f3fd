"""Liveness derived on the server from heartbeat times: the server notices silence itself."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class Liveness(StrEnum):
    WORKING = "working"
    IDLE = "idle"
    STALLED = "stalled"
    OFFLINE = "offline"
    SUSPENDED = "suspended"
    COOLING_DOWN = "cooling_down"
    COMPACTING = "compacting"


class ReportedStatus(StrEnum):
    """What an agent may say of itself in a heartbeat."""

    WORKING = "working"
    IDLE = "idle"
    COMPACTING = "compacting"


def derive_liveness(
    *,
    now: datetime,
    last_heartbeat_at: datetime | None,
    reported: str | None,
    stalled_after_seconds: int,
    offline_after_seconds: int,
    cooldown_until: datetime | None = None,
    suspended: bool = False,
) -> Liveness:
    """Liveness at ``now``: a suspension, then silence, then a cooldown, then what it said."""
    if suspended:
        return Liveness.SUSPENDED
    if last_heartbeat_at is None:
        return Liveness.OFFLINE
    silence = (now - last_heartbeat_at).total_seconds()
    if silence >= offline_after_seconds:
        return Liveness.OFFLINE
    if silence >= stalled_after_seconds:
        return Liveness.STALLED
    if cooldown_until is not None and cooldown_until > now:
        return Liveness.COOLING_DOWN
    if reported == ReportedStatus.WORKING:
        return Liveness.WORKING
    if reported == ReportedStatus.COMPACTING:
        return Liveness.COMPACTING
    return Liveness.IDLE
