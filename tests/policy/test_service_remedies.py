"""``service.restart`` / ``service.rollback`` without a server: only the owner, only the
runbook's command, never a build on production unless allowed, then the remedy's policy."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mcos.fleet.loader import check_fleet_text, template_text
from mcos.fleet.schema import Fleet
from mcos.policy import Action, Allow, Decision, Deny, NeedsApproval, PolicyRequest, decide

NOW = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
SERVICES = """
[[services]]
name = "web"
machine = "velo"
kind = "tcp"
port = 3000
[services.runbook]
restart = { command = "systemctl restart web", policy = "allow" }
rollback = { command = "/srv/web/rollback", policy = "ask" }

[[services]]
name = "api"
machine = "velo"
kind = "tcp"
port = 4000
production = true
[services.runbook]
restart = { command = "cd /srv/api && npm run build && systemctl restart api", policy = "allow" }
rollback = { command = "/srv/api/rollback", policy = "deny" }

[[services]]
name = "site"
machine = "velo"
kind = "tcp"
port = 5000
production = true
allow_build = true
[services.runbook]
restart = { command = "make && systemctl restart site", policy = "allow" }
"""


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    loaded, problems = check_fleet_text(template_text() + SERVICES)
    assert loaded is not None, problems
    return loaded


def ask(fleet: Fleet, who: str, kind: str, service: str, command: str | None = None) -> Decision:
    agent = fleet.agent(who)
    assert agent is not None
    found = fleet.service(service)
    if command is None and found is not None:
        remedy = found.runbook.remedy(kind.removeprefix("service."))
        command = remedy.command if remedy is not None else "true"
    return decide(
        PolicyRequest(
            agent,
            Action(kind, command=command, target=service),
            NOW,
            fleet.guard_for(agent),
            service=found,
            service_owner=fleet.owner_of(found) if found is not None else None,
        )
    )


def test_the_remedys_policy_decides_allow_ask_deny(fleet: Fleet) -> None:
    assert isinstance(ask(fleet, "elon", "service.restart", "web"), Allow)
    asked = ask(fleet, "elon", "service.rollback", "web")
    assert isinstance(asked, NeedsApproval) and asked.approvers == ("human",)
    denied = ask(fleet, "elon", "service.rollback", "api")
    assert isinstance(denied, Deny) and denied.rule == "service_policy"


def test_a_build_on_production_is_refused_unless_allowed(fleet: Fleet) -> None:
    refused = ask(fleet, "elon", "service.restart", "api")
    assert isinstance(refused, Deny) and refused.rule == "production_build"
    assert "allow_build = true" in refused.reason
    assert isinstance(ask(fleet, "elon", "service.restart", "site"), Allow)


@pytest.mark.parametrize(
    ("who", "kind", "service", "command", "rule"),
    [
        ("flow", "service.restart", "web", None, "capability"),  # no exec: the seed's Flow
        ("sentinel", "service.restart", "web", None, "capability"),
        ("elon", "service.restart", "nginx", "x", "unknown_service"),
        ("elon", "service.rollback", "site", "x", "no_remedy"),
        ("elon", "service.restart", "web", "rm -rf /srv/web", "runbook_command"),
        ("elon", "service.restart", "web", "", "incomplete_action"),
        ("elon", "service.reboot", "web", "x", "unknown_action"),
    ],
)
def test_anything_else_is_refused(
    fleet: Fleet, who: str, kind: str, service: str, command: str | None, rule: str
) -> None:
    refused = ask(fleet, who, kind, service, command)
    assert isinstance(refused, Deny) and refused.rule == rule, refused


def test_only_the_owner_may_ask(fleet: Fleet) -> None:
    elon, web = fleet.agent("elon"), fleet.service("web")
    assert elon is not None and web is not None
    decision = decide(
        PolicyRequest(
            elon,
            Action("service.restart", command="systemctl restart web", target="web"),
            NOW,
            fleet.guard_for(elon),
            service=web,
            service_owner="gene",  # as if the fleet file gave it to another agent
        )
    )
    assert isinstance(decision, Deny) and decision.rule == "service_owner"
