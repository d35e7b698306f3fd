"""``mcos usage`` (spend against budgets) and ``mcos usage budget AGENT`` (change limits)."""

from __future__ import annotations

from typing import Any

import click

from mcos.cli._context import Client, emit_json, json_option, pass_client, table
from mcos.contract import paths


@click.group()
def usage() -> None:
    """What the fleet spends, against its budgets."""


def _money(spent: float, limit: float | None) -> str:
    return f"${spent:.2f}" + (f" / ${limit:.2f}" if limit is not None else "")


@usage.command("ls")
@json_option
@pass_client
def summary(client: Client, as_json: bool) -> None:
    """Spend today and this month per agent, and per model this month."""
    data = client.get(paths.USAGE)
    if as_json:
        emit_json(data)
        return
    table(
        [
            [
                a["agent"],
                _money(a["spent"]["daily_usd"], a["budget"]["daily_usd"]),
                _money(a["spent"]["monthly_usd"], a["budget"]["monthly_usd"]),
                a["spent"]["daily_tokens"],
                f"PAUSED: {a['paused_reason']}" if a["paused"] else "",
            ]
            for a in data["agents"]
        ],
        ["AGENT", "TODAY", "MONTH", "TOKENS TODAY", ""],
    )
    click.echo(f"\nfleet: ${data['today_usd']:.2f} today, ${data['month_usd']:.2f} this month")
    for m in data["models_this_month"]:
        click.echo(
            f"  {m['model']}: {m['calls']} calls, {m['tokens']} tokens, ${m['cost_usd']:.2f}"
        )


def _period(label: str, period: dict[str, Any]) -> None:
    click.echo(
        f"{label} (since {period['since'][:10]}): {period['tasks_credited']} tasks credited, "
        f"{period['hours_saved']:g} h saved"
    )
    for kind in period["kinds"]:
        usd = f"${kind['value_usd']:,.2f}" if kind["value_usd"] is not None else "no rate"
        click.echo(
            f"  {kind['kind']:<26} {kind['tasks']:>4} tasks  {kind['minutes_saved'] / 60:>7g} h"
            f"  {kind['currency']} {kind['value']:>12,.2f}  {usd:>12}"
        )
    ratio = f"{period['roi']:g}:1" if period["roi"] is not None else "n/a"
    fixed = period["fixed_costs"]
    for cost in fixed["items"]:
        click.echo(
            f"  fixed: {cost['name']:<19} {cost['currency']} {cost['monthly']:,.2f}/month"
            f"  {fixed['days']}/{fixed['days_in_month']} of it: ${cost['usd']:,.2f}"
        )
    click.echo(
        f"  value ${period['value_usd']:,.2f} against cost ${period['cost_usd']:,.2f} "
        f"(model spend ${period['spend_usd']:,.2f} + fixed costs "
        f"${period['fixed_costs_usd']:,.2f}): ROI {ratio}"
    )
    if period["missing_exchange_rates"]:
        codes = ", ".join(period["missing_exchange_rates"])
        click.echo(f"  (no exchange rate for {codes}: add it under [exchange_rates])")


@usage.command("roi")
@json_option
@pass_client
def roi(client: Client, as_json: bool) -> None:
    """Time saved by finished work (the value ledger) against spend, this month and today."""
    data = client.get(paths.USAGE_ROI)
    if as_json:
        emit_json(data)
        return
    _period("This month", data["month"])
    _period("Today", data["today"])


@usage.command("budget")
@click.argument("agent")
@click.option("--daily-usd", type=float)
@click.option("--monthly-usd", type=float)
@click.option("--daily-tokens", type=int)
@click.option("--monthly-tokens", type=int)
@click.option("--reason", required=True, help="Recorded with the change.")
@json_option
@pass_client
def budget(
    client: Client,
    agent: str,
    daily_usd: float | None,
    monthly_usd: float | None,
    daily_tokens: int | None,
    monthly_tokens: int | None,
    reason: str,
    as_json: bool,
) -> None:
    """Change AGENT's limits; a paused agent resumes if it is within them again."""
    body: dict[str, object] = {"reason": reason}
    for key, value in (
        ("daily_usd", daily_usd),
        ("monthly_usd", monthly_usd),
        ("daily_tokens", daily_tokens),
        ("monthly_tokens", monthly_tokens),
    ):
        if value is not None:
            body[key] = value
    result = client.request("PATCH", paths.budget(agent), json=body)
    if as_json:
        emit_json(result)
    else:
        state = "still paused" if result["paused"] else "running"
        click.echo(f"{agent}: budget changed; {state}")
