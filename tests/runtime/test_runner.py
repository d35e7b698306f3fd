"""What the runner checks before it starts, without starting anything."""

from __future__ import annotations

import pytest

from mcos.fleet.loader import check_fleet_text, template_text
from mcos.fleet.schema import Fleet
from mcos.runtime.runner import CannotStart, check_agents, retiring_models, select_agents


def fleet_of(text: str) -> Fleet:
    fleet, problems = check_fleet_text(text)
    assert fleet is not None, problems
    return fleet


def test_a_model_reaching_end_of_life_is_named_with_the_agents_using_it() -> None:
    fleet = fleet_of(template_text().replace('"claude-sonnet-4-6"', '"claude-sonnet-4-5"', 2))
    warnings = retiring_models(fleet.agents)
    assert len(warnings) == 1
    assert warnings[0].startswith("claude-sonnet-4-5 reaches end of life on November 30th, 2026")
    assert "(used by jarvis, donna)" in warnings[0]
    assert retiring_models(fleet_of(template_text()).agents) == []


def test_each_agent_needs_its_own_key_and_only_its_own_is_named() -> None:
    fleet = fleet_of(template_text())
    velo = select_agents(fleet, "velo")
    env = {a.credential: "k" for a in velo}
    assert check_agents(fleet, velo, env) == []
    del env["MCOS_SENTINEL_ANTHROPIC_KEY"]
    problems = check_agents(fleet, velo, env)
    assert [p.key for p in problems] == ["agents[8] (sentinel).credential"]
    assert problems[0].fix.startswith("export MCOS_SENTINEL_ANTHROPIC_KEY=")
    simulated = [a.model_copy(update={"provider": "simulated"}) for a in velo]
    assert check_agents(fleet.model_copy(update={"agents": tuple(simulated)}), simulated, {}) == []


def test_selecting_agents_names_what_is_unknown() -> None:
    fleet = fleet_of(template_text())
    assert {a.machine for a in select_agents(fleet, "mac-mini")} == {"mac-mini"}
    assert [a.name for a in select_agents(fleet, None, ["flow", "elon"])] == ["elon", "flow"]
    with pytest.raises(CannotStart, match="no machine named 'imac'"):
        select_agents(fleet, "imac")
    with pytest.raises(CannotStart, match="no agent named 'floe'"):
        select_agents(fleet, None, ["floe"])
