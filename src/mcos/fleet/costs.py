"""``[costs]``: what the fleet costs besides its model calls, so ROI is on the whole cost basis.

The seed's 40:1 is value over everything it paid: the API (~$180-220/month, measured here from
the usage table), the servers (~$90/month) and Tailscale, domains and the like (~$30/month).
The last two are fixed monthly amounts, written in the fleet file as ``[[costs.fixed]]`` and
prorated by whole days to the period shown: a day carries ``1 / days_in_month`` of each, the
month so far ``days_begun / days_in_month``. Figures are converted to US dollars with the fleet
file's ``[exchange_rates]``; a currency without a rate is refused when the file is loaded.
"""

from __future__ import annotations

import calendar
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from mcos.fleet.model import FleetModel

if TYPE_CHECKING:
    from mcos.fleet.schema import Fleet

Problem = tuple[str, str, str]
Period = Literal["today", "month"]


class FixedCost(FleetModel):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,31}$")]
    """A lowercase name, unique among the fixed costs (``servers``, ``tailscale-domains``)."""
    monthly: float = Field(gt=0, le=1_000_000_000)
    """What it costs per calendar month, in ``currency``."""
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    """USD, or a currency listed under ``[exchange_rates]``."""
    description: str = Field("", max_length=300)
    """A line shown beside it in the ROI report."""


class Costs(FleetModel):
    fixed: tuple[FixedCost, ...] = ()
    """Fixed monthly costs (servers, networking, domains), prorated by day."""


def cost_problems(fleet: Fleet) -> list[Problem]:
    """A fixed cost named twice, or in a currency the fleet file gives no rate for."""
    problems: list[Problem] = []
    twice = {name for name, n in Counter(c.name for c in fleet.costs.fixed).items() if n > 1}
    reported: set[str] = set()
    for i, cost in enumerate(fleet.costs.fixed):
        key = f"costs.fixed[{i}]"
        if cost.name in twice and cost.name in reported:
            problems.append(
                (f"{key}.name", f"fixed cost {cost.name!r} is listed twice", "keep one entry")
            )
        reported.add(cost.name)
        if fleet.usd_rate(cost.currency) is None:
            problems.append(
                (
                    f"{key}.currency",
                    f"no exchange rate for {cost.currency}",
                    f"add {cost.currency} = <units per US dollar> under [exchange_rates], "
                    'or give the cost in currency = "USD"',
                )
            )
    return problems


def prorated_days(period: Period, local_now: datetime) -> tuple[int, int]:
    """Days of fixed cost the period carries, and the days in its month: ``(1, 30)`` for a day
    of June, ``(12, 30)`` for June to the 12th (the day begun counts whole)."""
    days_in_month = calendar.monthrange(local_now.year, local_now.month)[1]
    return (1 if period == "today" else local_now.day), days_in_month


def fixed_costs(fleet: Fleet, period: Period, local_now: datetime) -> dict[str, Any]:
    """Each fixed cost's share of ``period`` in US dollars, and their total."""
    days, days_in_month = prorated_days(period, local_now)
    share = days / days_in_month
    items: list[dict[str, Any]] = []
    monthly_total = 0.0
    for cost in fleet.costs.fixed:
        per_usd = fleet.usd_rate(cost.currency) or 1.0  # refused at load when missing
        monthly_usd = cost.monthly / per_usd
        monthly_total += monthly_usd
        items.append(
            {
                "name": cost.name,
                "description": cost.description,
                "monthly": cost.monthly,
                "currency": cost.currency,
                "monthly_usd": round(monthly_usd, 2),
                "usd": round(monthly_usd * share, 2),
            }
        )
    return {
        "days": days,
        "days_in_month": days_in_month,
        "monthly_usd": round(monthly_total, 2),
        "usd": round(monthly_total * share, 2),
        "items": items,
    }
