"""Cron schedules, pure: fire times in a schedule's own time zone, and what to do after downtime.

Fire times come from ``cronsim`` (Debian cron semantics, DST-correct for aware datetimes): a
07:00 schedule in Africa/Johannesburg fires at 05:00 UTC; one in Europe/London fires at 07:00
local time on both sides of a clock change, once on the repeated hour and once on the skipped
one. Everything here is computed in UTC and converted at the edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

CRON_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
CRON_HELP = (
    "write five fields 'minute hour day-of-month month day-of-week', such as '0 7 * * *' "
    "for 07:00 every day or '*/15 * * * 1-5' for every 15 minutes on weekdays"
)
MAX_DUE = 10_000
"""The most due times counted after downtime; a longer gap is reported as at least this many."""


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is no 5-field cron expression ("what; how to fix it"), or ``None``."""
    fields = expression.split()
    if len(fields) != 5:
        return f"cron {expression!r} has {len(fields)} field(s), not 5; {CRON_HELP}"
    for name, value in zip(CRON_FIELDS, fields, strict=True):
        probe = ["*"] * 5
        probe[CRON_FIELDS.index(name)] = value
        try:
            CronSim(" ".join(probe), datetime(2026, 1, 1, tzinfo=UTC))
        except CronSimError:
            return f"cron {expression!r}: bad {name} field {value!r}; {CRON_HELP}"
    try:
        CronSim(expression, datetime(2026, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        return f"cron {expression!r} never fires ({exc}); {CRON_HELP}"
    return None


def next_fire(cron: str, timezone: str, after: datetime) -> datetime:
    """The first fire time strictly after ``after``, in UTC."""
    local = after.astimezone(ZoneInfo(timezone))
    return next(iter(CronSim(cron, local))).astimezone(UTC)


def due_between(
    cron: str, timezone: str, after: datetime, until: datetime, limit: int = MAX_DUE
) -> list[datetime]:
    """Fire times in ``(after, until]``, in UTC, oldest first; at most ``limit`` of the newest."""
    out: list[datetime] = []
    for fire in CronSim(cron, after.astimezone(ZoneInfo(timezone))):
        at = fire.astimezone(UTC)
        if at > until:
            break
        out.append(at)
        if len(out) > limit:
            del out[0]
    return out


def fires_on_day(cron: str, timezone: str, now: datetime, day_zone: str) -> list[datetime]:
    """Fire times after ``now`` and before the end of ``now``'s day in ``day_zone``, in UTC."""
    local = now.astimezone(ZoneInfo(day_zone))
    midnight = datetime(local.year, local.month, local.day, tzinfo=ZoneInfo(day_zone))
    end = midnight + timedelta(days=1)  # wall-clock arithmetic: the next local midnight
    return [t for t in due_between(cron, timezone, now, end.astimezone(UTC)) if t < end]


@dataclass(frozen=True)
class CatchUp:
    """What to do with the due times that passed since a schedule last ran."""

    fire: datetime | None
    """The one run to start now: the newest due time, if it is still within the grace window."""
    missed: tuple[datetime, ...]
    """Every other due time: reported in one ``schedule.missed`` event, never silently skipped."""


def catch_up(due: list[datetime], now: datetime, grace: timedelta) -> CatchUp:
    """After ``due`` passed unrun (oldest first): fire the newest if fresh; report the rest."""
    if not due:
        return CatchUp(None, ())
    newest = due[-1]
    if now - newest <= grace:
        return CatchUp(newest, tuple(due[:-1]))
    return CatchUp(None, tuple(due))
