"""What a runner may decide alone (``mcos.policy.local``, ``permission.LocalPolicy``): only what
the fleet file alone allows, only while its fleet is the control plane's for that agent."""

from __future__ import annotations

from typing import Any

import pytest

from mcos.fleet.loader import check_fleet_text, template_text
from mcos.fleet.schema import Agent, Fleet
from mcos.policy.local import policy_version
from mcos.runtime.permission import LocalPolicy
from tests.fixtures.server import ControlPlane


def _fleet(text: str) -> Fleet:
    loaded, problems = check_fleet_text(text)
    assert loaded is not None, problems
    return loaded


def _agent(fleet: Fleet, name: str) -> Agent:
    found = fleet.agent(name)
    assert found is not None
    return found


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return _fleet(template_text())


def _local(fleet: Fleet, name: str, version: str | None = "same") -> LocalPolicy:
    agent = _agent(fleet, name)
    given = policy_version(fleet, agent) if version == "same" else version
    return LocalPolicy(fleet, agent, lambda: given)


WRITE: dict[str, Any] = {"kind": "file.write", "paths": ["/srv/flow/notes.md"]}


def test_only_what_the_fleet_file_alone_allows_is_decided_here(fleet: Fleet) -> None:
    flow = _local(fleet, "flow")
    assert flow.allows(WRITE)
    assert not flow.allows({"kind": "shell.exec", "command": "ls"})  # no exec: asked, refused
    assert not flow.allows({"kind": "file.write", "paths": ["notes.md"]})  # relative: denied
    assert not flow.allows(WRITE | {"approval_id": 3})  # carrying out an approval: asked
    assert not flow.allows({"kind": "file.write", "paths": "not a list"})  # the server says why
    donna = _local(fleet, "donna")
    assert not donna.allows({"kind": "email.send", "draft": 1, "recipients": ["a@b.co"]})


def test_a_runner_whose_fleet_is_not_the_control_planes_asks(fleet: Fleet) -> None:
    assert not _local(fleet, "flow", version=None).allows(WRITE)  # no heartbeat answer yet
    assert not _local(fleet, "flow", version="0" * 32).allows(WRITE)


def test_the_version_moves_with_what_the_engine_reads_and_only_that(fleet: Fleet) -> None:
    text = template_text()
    flow = _agent(fleet, "flow")
    again = _fleet(text)
    assert policy_version(again, _agent(again, "flow")) == policy_version(fleet, flow)
    start = text.index('name = "flow"')
    caps = text.index("capabilities", start)
    line_end = text.index("\n", caps)
    more = text[:caps] + 'capabilities = ["read", "plan", "write", "exec"]' + text[line_end:]
    changed = _fleet(more)
    assert policy_version(changed, _agent(changed, "flow")) != policy_version(fleet, flow)
    # Another agent's change is not Flow's.
    assert policy_version(changed, _agent(changed, "gene")) == policy_version(
        fleet, _agent(fleet, "gene")
    )


def test_the_heartbeat_answer_carries_the_control_planes_version(api: ControlPlane) -> None:
    fleet = _fleet((api.fleet_dir / "fleet.toml").read_text())  # type: ignore[attr-defined]
    with api.agent("flow") as flow:
        answer = flow.post("/api/v1/agents/flow/heartbeat", json={"status": "idle"}).json()
    assert answer["policy_version"] == policy_version(fleet, _agent(fleet, "flow"))
