"""What the fleet view leaves out, and the secrets the loader refuses to find in fleet.toml."""

from __future__ import annotations

import pytest

from mcos.fleet.loader import check_fleet_text, template_text
from mcos.fleet.schema import Fleet
from mcos.fleet.view import fleet_from_view, fleet_view, view_version

URL_LINE = "[control_plane]\n"


def fleet_of(text: str) -> Fleet:
    fleet, problems = check_fleet_text(text)
    assert fleet is not None, problems
    return fleet


def with_database(url: str) -> str:
    text = template_text()
    assert text.count(URL_LINE) == 1, "template changed: control_plane.url"
    return text.replace(URL_LINE, URL_LINE + f'database_url = "{url}"\n')


WEBHOOK = """
[[notify]]
name = "slack"
kind = "webhook"
format = "slack"
url = "https://hooks.slack.example/services/T0/B0/secretpart"
carries = ["p0"]
"""


def test_no_view_shows_the_database_url_or_a_webhook_url() -> None:
    fleet = fleet_of(with_database("postgresql+psycopg://mcos@db.internal/mcos") + WEBHOOK)
    for view in (fleet_view(fleet), fleet_view(fleet, machine="velo")):
        text = str(view)
        assert "db.internal" not in text and "secretpart" not in text
    assert fleet_view(fleet)["notify"][0]["url"].startswith("(set in fleet.toml")
    assert "notify" not in fleet_view(fleet, machine="velo"), "the operator's channels"


def test_a_view_is_a_fleet_and_its_version_follows_its_content() -> None:
    fleet = fleet_of(template_text())
    velo = fleet_view(fleet, machine="velo")
    assert view_version(velo) == view_version(dict(reversed(list(velo.items()))))
    rebuilt = fleet_from_view(velo)
    assert {a.name for a in rebuilt.agents} == {a.name for a in fleet.agents}
    assert all(s.machine == "velo" for s in rebuilt.services)
    # A change elsewhere that velo's runner does not see leaves its version alone.
    donna_budget = "daily_usd = 0.80"
    changed = fleet_of(template_text().replace(donna_budget, "daily_usd = 0.90", 1))
    assert view_version(fleet_view(changed, machine="velo")) == view_version(velo)
    assert view_version(fleet_view(changed, machine="mac-mini")) != view_version(
        fleet_view(fleet, machine="mac-mini")
    )


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (with_database("postgresql+psycopg://mcos:hunter2@db/mcos"), "control_plane.database_url"),
        (
            template_text()
            + '\n[[services]]\nname = "site"\nmachine = "velo"\nowner = "elon"\nkind = "http"\n'
            'url = "https://admin:hunter2@site.example/health"\n',
            "services[1].url",
        ),
    ],
)
def test_a_password_in_fleet_toml_is_refused(text: str, key: str) -> None:
    fleet, problems = check_fleet_text(text)
    assert fleet is None
    assert [p.key for p in problems] == [key]
    assert "hunter2" not in problems[0].message + problems[0].fix, "the secret is not echoed"
    assert "environment variable" in problems[0].fix or "MCOS_DATABASE_URL" in problems[0].fix
