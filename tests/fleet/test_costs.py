"""``[costs]``: the fixed monthly costs ROI is set against, prorated, converted, checked at load."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from mcos.demo.fleet import demo_fleet_text
from mcos.fleet.costs import fixed_costs
from mcos.fleet.loader import check_fleet_text, template_text
from mcos.fleet.schema import Fleet
from tests.fleet.test_loader import edited, only_problem

SAST = ZoneInfo("Africa/Johannesburg")
SERVERS = 'name = "servers"\nmonthly = 90\ncurrency = "USD"'


def loaded(text: str) -> Fleet:
    fleet, problems = check_fleet_text(text)
    assert fleet is not None, [p.render("fleet.toml") for p in problems]
    return fleet


def test_the_template_and_the_demo_carry_the_seeds_servers_and_networking() -> None:
    for text in (template_text(), demo_fleet_text(template_text(), 8799)):
        fleet = loaded(text)
        assert [(c.name, c.monthly, c.currency) for c in fleet.costs.fixed] == [
            ("servers", 90, "USD"),
            ("infrastructure", 30, "USD"),
        ]


def test_the_seeds_forty_to_one_on_its_own_cost_basis() -> None:
    """R228,500 of value a month (the ledger's test) over ~$190 of API and $120 fixed."""
    fleet = loaded(template_text())
    whole_month = fixed_costs(fleet, "month", datetime(2026, 6, 30, 12, tzinfo=SAST))
    assert (whole_month["days"], whole_month["days_in_month"]) == (30, 30)
    assert whole_month["usd"] == whole_month["monthly_usd"] == 120.0
    value_usd = 228_500 / fleet.exchange_rates["ZAR"]
    api = sum(a.budget.monthly_usd or 0 for a in fleet.agents)
    roi = value_usd / (api + whole_month["usd"])
    assert 35 <= roi <= 41, roi  # the seed: "~$12,000/month ... against ~$300/month: 40:1"


@pytest.mark.parametrize(
    ("period", "when", "days", "in_month", "usd"),
    [
        ("today", datetime(2026, 2, 10, 9, tzinfo=SAST), 1, 28, 120 / 28),
        ("month", datetime(2026, 2, 10, 9, tzinfo=SAST), 10, 28, 120 * 10 / 28),
        ("today", datetime(2026, 7, 31, 23, tzinfo=SAST), 1, 31, 120 / 31),
        ("month", datetime(2026, 7, 1, 0, 5, tzinfo=SAST), 1, 31, 120 / 31),
        ("month", datetime(2028, 2, 29, 12, tzinfo=SAST), 29, 29, 120.0),
    ],
)
def test_fixed_costs_are_prorated_by_whole_days(
    period: str, when: datetime, days: int, in_month: int, usd: float
) -> None:
    share = fixed_costs(loaded(template_text()), period, when)  # type: ignore[arg-type]
    assert (share["days"], share["days_in_month"]) == (days, in_month)
    assert share["usd"] == pytest.approx(usd, abs=0.005)
    assert sum(i["usd"] for i in share["items"]) == pytest.approx(usd, abs=0.01)


def test_a_cost_in_rand_is_converted_with_the_exchange_rates() -> None:
    fleet = loaded(edited((SERVERS, 'name = "servers"\nmonthly = 1710\ncurrency = "ZAR"')))
    share = fixed_costs(fleet, "month", datetime(2026, 6, 15, tzinfo=SAST))
    servers = share["items"][0]
    assert servers | {"description": ""} == {
        "name": "servers",
        "description": "",
        "monthly": 1710,
        "currency": "ZAR",
        "monthly_usd": 90.0,  # R1,710 at R19.0 to the dollar
        "usd": 45.0,
    }
    assert share["monthly_usd"] == 120.0 and share["usd"] == 60.0


def test_without_costs_there_is_nothing_fixed() -> None:
    text, removed = re.subn(r"\[\[costs\.fixed\]\]\n(?:[^\n]+\n)+", "", template_text())
    assert removed == 2
    fleet = loaded(text)
    assert fleet.costs.fixed == ()
    share = fixed_costs(fleet, "month", datetime(2026, 6, 15, tzinfo=SAST))
    assert share["usd"] == 0 and share["items"] == []


@pytest.mark.parametrize(
    ("replacement", "key", "message"),
    [
        ('name = "servers"\nmonthly = 0\ncurrency = "USD"', "costs.fixed[0].monthly", "greater"),
        ('name = "servers"\nmonthly = "a lot"\ncurrency = "USD"', "costs.fixed[0].monthly", ""),
        ('name = "servers"\nmonthly = 90\ncurrency = "usd"', "costs.fixed[0].currency", ""),
        (
            'name = "servers"\nmonthly = 90\ncurrency = "EUR"',
            "costs.fixed[0].currency",
            "no exchange rate for EUR",
        ),
        ('name = "Servers!"\nmonthly = 90\ncurrency = "USD"', "costs.fixed[0].name", ""),
        (
            'name = "infrastructure"\nmonthly = 90\ncurrency = "USD"',
            "costs.fixed[1].name",  # the second one, the copy
            "fixed cost 'infrastructure' is listed twice",
        ),
        (SERVERS + "\nyearly = 1080", "costs.fixed[0].yearly", ""),
    ],
)
def test_bad_costs_are_refused_at_load_with_the_key(
    replacement: str, key: str, message: str
) -> None:
    problem = only_problem(edited((SERVERS, replacement)))
    assert problem.key == key
    assert message in problem.message
    assert problem.line is not None
