"""What a runner does with a new version of its fleet (``fleet_change``), without running it."""

from __future__ import annotations

from mcos.fleet.loader import check_fleet_text, template_text
from mcos.fleet.schema import Fleet
from mcos.runtime.fleet_follow import fleet_change

TEMPLATE = template_text()


def fleet_of(text: str) -> Fleet:
    fleet, problems = check_fleet_text(text)
    assert fleet is not None, problems
    return fleet


def on(fleet: Fleet, machine: str) -> set[str]:
    return {a.name for a in fleet.agents if a.machine == machine and not a.external}


def in_block(text: str, agent: str, old: str, new: str) -> str:
    at = text.index(f'name = "{agent}"')
    assert old in text[at:], f"{old!r} after {agent}"
    return text[:at] + text[at:].replace(old, new, 1)


def test_an_unchanged_fleet_changes_nothing() -> None:
    fleet = fleet_of(TEMPLATE)
    change = fleet_change(fleet, fleet, {"velo"}, on(fleet, "velo"))
    assert (change.start, change.stop, change.restart, change.needs_restart) == ((), (), (), ())


def test_only_the_agent_whose_settings_changed_restarts() -> None:
    old = fleet_of(TEMPLATE)
    new = fleet_of(in_block(TEMPLATE, "flow", 'capabilities = ["read", "plan", "write"', (
        'capabilities = ["read", "plan", "write", "network"'
    )))  # fmt: skip
    change = fleet_change(old, new, {"velo"}, on(old, "velo"))
    assert [a.name for a in change.restart] == ["flow"]
    assert "network" in change.restart[0].capabilities
    assert change.start == () and change.stop == ()
    # A change that does not reach velo's agents (Donna, on the Mac Mini) restarts none of them.
    donna = fleet_of(TEMPLATE.replace("daily_usd = 0.80", "daily_usd = 0.90", 1))
    assert fleet_change(old, donna, {"velo"}, on(old, "velo")).restart == ()


def test_a_fleet_wide_guard_change_restarts_every_agent() -> None:
    old = fleet_of(TEMPLATE)
    new = fleet_of(TEMPLATE.replace("# [guard]\n", '[guard]\nprotected_paths = ["/srv/x/**"]\n', 1))
    change = fleet_change(old, new, {"velo"}, on(old, "velo"))
    assert {a.name for a in change.restart} == on(old, "velo")


def test_agents_made_external_stop_and_the_selection_is_kept() -> None:
    old = fleet_of(TEMPLATE)
    new = fleet_of(in_block(TEMPLATE, "atlas", 'machine = "velo"\n', (
        'machine = "velo"\nruntime = "external"\n'
    )))  # fmt: skip
    change = fleet_change(old, new, {"velo"}, on(old, "velo"))
    assert change.stop == ("atlas",)
    # A runner started for some agents (--agent) never starts the others.
    chosen = fleet_change(old, new, {"velo"}, {"flow"}, frozenset({"flow"}))
    assert chosen.start == () and chosen.stop == ()


def test_what_needs_a_restart_is_named() -> None:
    old = fleet_of(TEMPLATE)
    service = (
        '\n[[services]]\nname = "ssh"\nmachine = "velo"\nowner = "elon"\nkind = "tcp"\nport = 22\n'
    )
    moved = TEMPLATE.replace('url = "http://127.0.0.1:8750"', 'url = "http://10.0.0.1:8750"', 1)
    new = fleet_of(moved + service)
    change = fleet_change(old, new, {"velo"}, on(old, "velo"))
    assert any("services of machine 'velo' changed" in m for m in change.needs_restart)
    assert any("http://10.0.0.1:8750" in m for m in change.needs_restart)
