"""``[[notify]]`` in the fleet file: the template's examples load, bad entries are problems
with the key and the fix, a missing secret variable is a warning, quiet hours hold what they
should."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from mcos.fleet.loader import check_fleet_text, template_text
from mcos.fleet.notify import QuietHours
from mcos.fleet.warnings import notify_warnings

JHB = ZoneInfo("Africa/Johannesburg")


def uncommented() -> str:
    """The template with its commented ``[[notify]]`` examples switched on."""
    text = template_text()
    start = text.index("# [[notify]]")
    tail = re.sub(r"^# ?", "", text[start:], flags=re.MULTILINE)
    return text[:start] + tail


def with_notify(entry: str) -> str:
    return template_text() + "\n[[notify]]\n" + entry


def problems_of(text: str) -> list[str]:
    fleet, problems = check_fleet_text(text)
    assert fleet is None, "the fleet file should have been refused"
    return [f"{p.key}: {p.message} / fix: {p.fix}" for p in problems]


def test_the_templates_email_and_telegram_examples_load() -> None:
    fleet, problems = check_fleet_text(uncommented())
    assert problems == [] and fleet is not None
    kinds = {c.name: c.kind for c in fleet.notify}
    assert kinds == {"owner-mail": "email", "owner-telegram": "telegram"}
    telegram = fleet.notify[1]
    assert telegram.kind == "telegram" and telegram.api_url == "https://api.telegram.org"


def test_a_missing_secret_is_a_warning_with_the_fix() -> None:
    fleet, _ = check_fleet_text(uncommented())
    assert fleet is not None
    warnings = notify_warnings(fleet, {"MCOS_NOTIFY_SMTP_PASSWORD": "x"})
    assert [w.agent for w in warnings] == ["notify:owner-telegram"]
    assert "MCOS_NOTIFY_TELEGRAM_TOKEN" in warnings[0].message
    assert "export MCOS_NOTIFY_TELEGRAM_TOKEN" in warnings[0].message
    assert (
        notify_warnings(
            fleet, {"MCOS_NOTIFY_SMTP_PASSWORD": "x", "MCOS_NOTIFY_TELEGRAM_TOKEN": "t"}
        )
        == []
    )


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            'name = "m"\nkind = "email"\nhost = "smtp.example.com"\ntls = "none"\n'
            'from = "a@b.c"\nto = ["d@e.f"]\ncarries = ["p0"]\n',
            r"notify\[0\].*clear text.*use \"ssl\" or \"starttls\"",
        ),
        (
            'name = "h"\nkind = "webhook"\nformat = "signed"\nurl = "https://x.example/h"\n'
            'carries = ["p0"]\n',
            r"notify\[0\].*signed webhook needs its secret.*secret_env",
        ),
        (
            'name = "h"\nkind = "webhook"\nformat = "slack"\nurl = "http://hooks.example/h"\n'
            'carries = ["p0"]\n',
            r"clear text.*use https",
        ),
        (
            'name = "t"\nkind = "telegram"\ntoken_env = "TG"\nchat_id = "1"\ncarries = ["pager"]\n',
            r"notify\[0\]\.telegram\.carries\[0\].*'p0'",
        ),
        (
            'name = "t"\nkind = "telegram"\ntoken_env = "TG_TOKEN"\nchat_id = "1"\n'
            'carries = ["p0"]\nquiet_hours = "10pm-7am"\n',
            r"quiet_hours.*22:00-07:00",
        ),
        (
            'name = "t"\nkind = "telegram"\ntoken_env = "MCOS_JARVIS_ANTHROPIC_KEY"\n'
            'chat_id = "1"\ncarries = ["p0"]\n',
            r"notify\[0\]\.token_env: MCOS_JARVIS_ANTHROPIC_KEY is agent 'jarvis'",
        ),
        (
            'name = "t"\nkind = "pager"\ncarries = ["p0"]\n',
            r"notify\[0\].*'email', 'webhook', 'telegram'",
        ),
    ],
    ids=[
        "plain-smtp",
        "unsigned",
        "plain-http",
        "unknown-carry",
        "bad-quiet",
        "credential",
        "kind",
    ],
)
def test_a_bad_notify_entry_is_a_problem_with_its_key_and_fix(entry: str, expected: str) -> None:
    found = problems_of(with_notify(entry))
    assert any(re.search(expected, p) for p in found), found


def test_two_channels_with_one_name_are_refused() -> None:
    entry = (
        'name = "t"\nkind = "telegram"\ntoken_env = "TG_TOKEN"\nchat_id = "1"\ncarries = ["p0"]\n'
    )
    found = problems_of(with_notify(entry + "\n[[notify]]\n" + entry))
    assert any("notify[1].name" in p and "listed twice" in p for p in found), found


def test_quiet_hours_past_midnight_hold_until_the_morning() -> None:
    quiet = QuietHours("22:00-07:00")
    at_3am = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)  # 03:00 in Johannesburg (UTC+2)
    assert quiet.held_until(at_3am, JHB) == datetime(2026, 3, 10, 7, 0, tzinfo=JHB)
    at_11pm = datetime(2026, 3, 10, 21, 0, tzinfo=UTC)  # 23:00 local
    assert quiet.held_until(at_11pm, JHB) == datetime(2026, 3, 11, 7, 0, tzinfo=JHB)
    at_noon = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    assert quiet.held_until(at_noon, JHB) is None
    at_7am = datetime(2026, 3, 10, 5, 0, tzinfo=UTC)  # 07:00 local: the end is not inside
    assert quiet.held_until(at_7am, JHB) is None


def test_quiet_hours_within_one_day() -> None:
    quiet = QuietHours("12:30-14:00")
    assert quiet.held_until(datetime(2026, 3, 10, 10, 45, tzinfo=UTC), JHB) == datetime(
        2026, 3, 10, 14, 0, tzinfo=JHB
    )
    assert quiet.held_until(datetime(2026, 3, 10, 12, 30, tzinfo=UTC), JHB) is None
