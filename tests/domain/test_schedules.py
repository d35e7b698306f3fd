"""Cron fire times in a schedule's own time zone, and what happens to runs missed in downtime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mcos.domain.schedules import (
    catch_up,
    cron_problem,
    due_between,
    fires_on_day,
    next_fire,
)

JHB = "Africa/Johannesburg"
LONDON = "Europe/London"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_a_07_00_schedule_fires_at_07_00_in_its_own_time_zone() -> None:
    now = utc(2026, 11, 28, 4, 0)
    # Johannesburg is UTC+2 all year: 07:00 there is 05:00 UTC.
    assert next_fire("0 7 * * *", JHB, now) == utc(2026, 11, 28, 5, 0)
    assert next_fire("0 7 * * *", "UTC", now) == utc(2026, 11, 28, 7, 0)
    # Strictly after: at 07:00 sharp the next run is tomorrow's.
    assert next_fire("0 7 * * *", JHB, utc(2026, 11, 28, 5, 0)) == utc(2026, 11, 29, 5, 0)


def test_daylight_saving_moves_utc_time_not_local_time() -> None:
    # London: GMT (UTC+0) in winter, BST (UTC+1) from 29 March 2026, 01:00 UTC.
    before, after = utc(2026, 3, 27, 12), utc(2026, 3, 30, 12)
    assert due_between("0 7 * * *", LONDON, before, after) == [
        utc(2026, 3, 28, 7, 0),
        utc(2026, 3, 29, 6, 0),
        utc(2026, 3, 30, 6, 0),
    ]


def test_a_run_in_the_skipped_hour_fires_once_and_in_the_repeated_hour_once() -> None:
    # 01:30 does not exist in London on 29 March 2026: it runs at 02:00 BST (01:00 UTC) instead.
    spring = due_between("30 1 * * *", LONDON, utc(2026, 3, 28, 12), utc(2026, 3, 29, 12))
    assert spring == [utc(2026, 3, 29, 1, 0)]
    # 01:30 happens twice on 25 October 2026: it runs on the first (BST) only.
    autumn = due_between("30 1 * * *", LONDON, utc(2026, 10, 24, 12), utc(2026, 10, 25, 12))
    assert autumn == [utc(2026, 10, 25, 0, 30)]


def test_due_between_is_after_exclusive_until_inclusive_and_keeps_the_newest() -> None:
    start = utc(2026, 11, 28, 10, 0)
    assert due_between("* * * * *", "UTC", start, start + timedelta(minutes=3)) == [
        start + timedelta(minutes=m) for m in (1, 2, 3)
    ]
    assert due_between("* * * * *", "UTC", start, start + timedelta(minutes=5), limit=2) == [
        start + timedelta(minutes=4),
        start + timedelta(minutes=5),
    ]


def test_runs_still_due_today_end_at_the_fleets_midnight() -> None:
    now = utc(2026, 11, 28, 4, 0)  # 06:00 in Johannesburg
    assert fires_on_day("0 7 * * *", JHB, now, JHB) == [utc(2026, 11, 28, 5, 0)]
    assert fires_on_day("0 */8 * * *", JHB, now, JHB) == [
        utc(2026, 11, 28, 6, 0),  # 08:00
        utc(2026, 11, 28, 14, 0),  # 16:00
    ]
    assert fires_on_day("0 7 * * *", JHB, utc(2026, 11, 28, 6, 0), JHB) == []


def test_after_downtime_only_the_newest_run_fires_and_the_rest_are_reported() -> None:
    now = utc(2026, 11, 28, 10, 5, 30)
    due = [utc(2026, 11, 28, 10, m) for m in range(1, 6)]
    plan = catch_up(due, now, timedelta(minutes=60))
    assert plan.fire == utc(2026, 11, 28, 10, 5)
    assert plan.missed == tuple(due[:-1])


def test_a_run_later_than_its_grace_window_is_reported_not_fired() -> None:
    now = utc(2026, 11, 28, 12, 0)
    due = [utc(2026, 11, 27, 5, 0), utc(2026, 11, 28, 5, 0)]
    plan = catch_up(due, now, timedelta(minutes=60))
    assert plan.fire is None
    assert plan.missed == tuple(due)
    assert catch_up([], now, timedelta(minutes=60)) == catch_up([], now, timedelta(0))


@pytest.mark.parametrize(
    ("cron", "words"),
    [
        ("0 7 * *", "4 field(s), not 5"),
        ("0 7 * * * *", "6 field(s), not 5"),
        ("61 7 * * *", "bad minute field '61'"),
        ("0 24 * * *", "bad hour field '24'"),
        ("0 7 0 * *", "bad day-of-month field '0'"),
        ("0 7 * 13 *", "bad month field '13'"),
        ("0 7 * * funday", "bad day-of-week field 'funday'"),
        ("0 7 31 2 *", "never fires"),
    ],
)
def test_a_bad_cron_names_the_field_and_shows_the_form(cron: str, words: str) -> None:
    problem = cron_problem(cron)
    assert problem is not None and words in problem
    what, _, fix = problem.rpartition("; ")
    assert what and "'0 7 * * *'" in fix


def test_good_crons_have_no_problem() -> None:
    for cron in ("0 7 * * *", "*/15 * * * 1-5", "30 6 * * MON-FRI", "0 0 1 * *", "0 3 * * *"):
        assert cron_problem(cron) is None
