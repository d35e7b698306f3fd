"""Committee members are woken to give their position, with the tool offered to every agent."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcos.fleet.loader import load_fleet, template_text
from mcos.fleet.schema import Agent
from mcos.runtime.runner import WAKE_TYPES, Runner
from mcos.runtime.tools import offered_tools


@dataclass
class WakeRecorder:
    agent: Agent
    woken: list[str] = field(default_factory=list)

    def wake(self, reason: str) -> None:
        self.woken.append(reason)


def test_a_committee_wakes_its_members_but_not_its_opener(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(template_text(), encoding="utf-8")
    fleet = load_fleet(path)
    runner = Runner(fleet, list(fleet.agents), "http://127.0.0.1:9", tmp_path, tmp_path)
    loops: dict[str, Any] = {a.name: WakeRecorder(a) for a in fleet.agents}
    runner.loops = loops
    runner.route(
        {
            "type": "committee.opened",
            "actor": "agent:jarvis",
            "subject": "committee:1",
            "data": {"committee": 1, "members": ["jarvis", "donna", "apex"]},
        }
    )
    assert {n for n, loop in loops.items() if loop.woken} == {"donna", "apex"}
    assert loops["donna"].woken == ["committee.opened"]
    assert "committee.*" in WAKE_TYPES
    assert all("give_position" in {t.name for t in offered_tools(a)} for a in fleet.agents)
