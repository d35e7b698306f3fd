"""The demo's fleet file: the seed's 23 agents on the simulated provider, and one slot for an
agent you bring (Nova), which the demo never runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcos.cli.demo import _demo_fleet
from mcos.cli.setup import init_fleet
from mcos.demo.fleet import (
    EXTERNAL,
    EXTERNAL_SLOT,
    demo_agents,
    demo_fleet_text,
    is_demo_fleet,
)
from mcos.fleet.loader import check_fleet_text, load_fleet, template_text
from mcos.fleet.schema import Fleet


def loaded(text: str) -> Fleet:
    fleet, problems = check_fleet_text(text)
    assert fleet is not None, [p.render("fleet.toml") for p in problems]
    return fleet


def test_nova_is_a_slot_the_demo_does_not_run_and_may_not_exec() -> None:
    fleet = loaded(demo_fleet_text(template_text(), 8799))
    nova = fleet.agent(EXTERNAL)
    assert nova is not None and nova.external and nova.credential is None
    assert "exec" not in nova.capabilities and "write" in nova.capabilities
    driven = demo_agents(fleet)
    assert len(driven) == 23 and EXTERNAL not in {a.name for a in driven}
    assert {a.provider for a in driven} == {"simulated"}
    assert is_demo_fleet(fleet), "an agent that runs elsewhere spends nothing of the demo's"


def test_a_fleet_whose_own_agents_call_a_real_provider_is_no_demo_fleet() -> None:
    text = demo_fleet_text(template_text(), 8799)
    real = text.replace('provider = "simulated"', 'provider = "openai"', 1)
    assert not is_demo_fleet(loaded(real))


def test_a_demo_folder_from_before_the_slot_gets_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    folder = tmp_path / "demo"
    before = demo_fleet_text(template_text(), 8799).replace(EXTERNAL_SLOT, "")
    init_fleet(folder, before, f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}")
    assert load_fleet(folder / "fleet.toml").agent(EXTERNAL) is None

    fleet, token = _demo_fleet(folder, None)
    assert token
    nova = load_fleet(folder / "fleet.toml").agent(EXTERNAL)
    assert nova is not None and nova.external and fleet.agent(EXTERNAL) == nova
    _demo_fleet(folder, None)  # and only once
    assert (folder / "fleet.toml").read_text().count(f'name = "{EXTERNAL}"') == 1
