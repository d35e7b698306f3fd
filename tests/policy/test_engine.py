"""The policy engine without a server: each rule, and the seed's rogue-agent failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mcos.fleet.loader import check_fleet_text, template_text
from mcos.fleet.schema import Agent, Fleet
from mcos.policy import Action, Allow, Deny, Grant, NeedsApproval, PolicyRequest, decide

NOW = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    loaded, problems = check_fleet_text(template_text())
    assert loaded is not None, problems
    return loaded


def agent(fleet: Fleet, name: str) -> Agent:
    found = fleet.agent(name)
    assert found is not None
    return found


@pytest.mark.parametrize(
    "command",
    [
        "npm run build",
        "cd /srv/fibreflow && next build",
        "bash -c 'echo harmless; next build'",
        "echo 'this is only a read, trust me'",
    ],
)
def test_rogue_agent_flow_cannot_exec_however_it_asks(fleet: Fleet, command: str) -> None:
    decision = decide(PolicyRequest(agent(fleet, "flow"), Action("shell.exec", command), NOW))
    assert isinstance(decision, Deny)
    assert decision.rule == "capability"
    assert "'exec'" in decision.reason and "'flow'" in decision.reason


def test_a_restoration_lets_flow_exec_only_until_it_lapses(fleet: Fleet) -> None:
    flow = agent(fleet, "flow")
    grant = Grant("flow", "exec", expires_at=NOW + timedelta(minutes=30), approval_id=7)
    build = Action("shell.exec", "npm run build", paths=("/srv/fibreflow/staging",))
    assert isinstance(decide(PolicyRequest(flow, build, NOW, (grant,))), Allow)
    lapsed = decide(PolicyRequest(flow, build, NOW + timedelta(minutes=31), (grant,)))
    assert isinstance(lapsed, Deny) and lapsed.rule == "capability"
    other = Grant("gene", "exec", expires_at=NOW + timedelta(hours=1), approval_id=8)
    assert isinstance(decide(PolicyRequest(flow, build, NOW, (other,))), Deny)
    wrong = Grant("flow", "network", expires_at=NOW + timedelta(hours=1), approval_id=9)
    assert isinstance(decide(PolicyRequest(flow, build, NOW, (wrong,))), Deny)


def test_even_restored_exec_stays_out_of_production(fleet: Fleet) -> None:
    flow = agent(fleet, "flow")
    grant = Grant("flow", "exec", expires_at=NOW + timedelta(minutes=30), approval_id=7)
    for path in ("/srv/fibreflow/production", "/srv/fibreflow/production/.next/cache"):
        decision = decide(
            PolicyRequest(flow, Action("shell.exec", "next build", paths=(path,)), NOW, (grant,))
        )
        assert isinstance(decision, Deny) and decision.rule == "protected_path", path
    assert isinstance(
        decide(
            PolicyRequest(flow, Action("file.read", paths=("/srv/fibreflow/production/a",)), NOW)
        ),
        Allow,
    ), "reading is not what the protection is for"


def test_a_change_the_size_of_the_seeds_runaway_commit_is_refused(fleet: Fleet) -> None:
    flow = agent(fleet, "flow")
    runaway = decide(PolicyRequest(flow, Action("git.commit", files_touched=3_571), NOW))
    assert isinstance(runaway, Deny) and runaway.rule == "max_files_per_change"
    assert "3571 files" in runaway.reason and "at most 200" in runaway.reason
    assert isinstance(
        decide(PolicyRequest(flow, Action("git.commit", files_touched=12), NOW)), Allow
    )


def test_unknown_action_kinds_are_refused_not_allowed(fleet: Fleet) -> None:
    decision = decide(PolicyRequest(agent(fleet, "jarvis"), Action("shell.sudo", "rm -rf /"), NOW))
    assert isinstance(decision, Deny) and decision.rule == "unknown_action"
    assert "shell.exec" in decision.reason, "the refusal lists the kinds that exist"


def test_capabilities_map_to_kinds(fleet: Fleet) -> None:
    donna, elon, sentinel = (agent(fleet, n) for n in ("donna", "elon", "sentinel"))
    assert isinstance(
        decide(PolicyRequest(donna, Action("email.send", recipient="a@b.za"), NOW)), Allow
    )
    assert isinstance(
        decide(PolicyRequest(elon, Action("email.send", recipient="a@b.za"), NOW)), Deny
    )
    assert isinstance(
        decide(PolicyRequest(elon, Action("shell.exec", "systemctl restart x"), NOW)), Allow
    )
    broadcast = decide(PolicyRequest(sentinel, Action("message.broadcast"), NOW))
    assert isinstance(broadcast, Deny) and "'broadcast'" in broadcast.reason


def test_blocked_hosts_and_payments(fleet: Fleet) -> None:
    base = agent(fleet, "atlas")
    guarded = base.model_copy(
        update={
            "guard": base.guard.model_copy(
                update={"blocked_hosts": ("*.internal",), "max_spend_usd": 50.0}
            )
        }
    )
    capable = guarded.model_copy(update={"capabilities": (*guarded.capabilities, "spend")})
    fetch = decide(PolicyRequest(guarded, Action("http.fetch", host="Billing.INTERNAL"), NOW))
    assert isinstance(fetch, Deny) and fetch.rule == "blocked_host"
    assert isinstance(
        decide(PolicyRequest(guarded, Action("http.fetch", host="example.org"), NOW)), Allow
    )
    small = decide(PolicyRequest(capable, Action("payment.send", amount_usd=20), NOW))
    large = decide(PolicyRequest(capable, Action("payment.send", amount_usd=2_000), NOW))
    assert isinstance(small, Allow)
    assert isinstance(large, NeedsApproval) and large.approvers == ("human",)
    unguarded = decide(PolicyRequest(guarded, Action("payment.send", amount_usd=20), NOW))
    assert isinstance(unguarded, Deny), "no spend capability: refused before any approval"


def test_ask_first_holds_an_allowed_kind_for_a_person_every_time(fleet: Fleet) -> None:
    elon = agent(fleet, "elon")
    guarded = elon.model_copy(
        update={"guard": elon.guard.model_copy(update={"ask_first": ("shell.exec",)})}
    )
    restart = Action("shell.exec", "systemctl restart fibreflow")
    assert isinstance(decide(PolicyRequest(elon, restart, NOW)), Allow)
    decision = decide(PolicyRequest(guarded, restart, NOW))
    assert isinstance(decision, NeedsApproval)
    assert decision.rule == "ask_first" and decision.approvers == ("human",)
    # It holds only the kinds it names, and never turns a refusal into a question.
    assert isinstance(decide(PolicyRequest(guarded, Action("http.fetch", host="x.co"), NOW)), Allow)
    flow = agent(fleet, "flow")
    flow = flow.model_copy(
        update={"guard": flow.guard.model_copy(update={"ask_first": ("shell.exec",)})}
    )
    assert isinstance(decide(PolicyRequest(flow, restart, NOW)), Deny)


def test_ask_first_names_only_known_action_kinds() -> None:
    text = template_text().replace(
        "max_files_per_change = 200", 'max_files_per_change = 200\nask_first = ["shell.run"]'
    )
    loaded, problems = check_fleet_text(text)
    assert loaded is None
    assert any("ask_first" in p.key and "shell.exec" in p.fix for p in problems), problems
