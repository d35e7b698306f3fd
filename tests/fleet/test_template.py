"""The built-in template is the seed's fleet, and it loads as written by ``mcos init``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mcos.fleet import Fleet, load_fleet
from mcos.fleet.loader import template_text
from mcos.fleet.schema import ENV_VAR_PATTERN, EscalationRule
from mcos.fleet.warnings import fleet_warnings


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    path: Path = tmp_path_factory.mktemp("template") / "fleet.toml"
    path.write_text(template_text(), encoding="utf-8")
    return load_fleet(path)


def test_template_is_23_agents_on_mac_mini_and_velo(fleet: Fleet) -> None:
    assert len(fleet.agents) == 23
    assert [m.name for m in fleet.machines] == ["mac-mini", "velo"]
    used = {a.machine for a in fleet.agents}
    assert used == {"mac-mini", "velo"}
    names = {a.name for a in fleet.agents}
    seed_names = {
        "jarvis", "donna", "apex", "vega", "elon", "gene", "flow", "atlas", "sentinel",
        "pulse", "scout", "claw", "ledger", "vault",
    }  # fmt: skip
    assert seed_names <= names, seed_names - names
    assert fleet.fleet.timezone == "Africa/Johannesburg"


def test_template_roles_match_the_seed(fleet: Fleet) -> None:
    roles = {a.name: a.role for a in fleet.agents}
    assert roles["jarvis"] == "orchestrator"
    assert roles["sentinel"] == "security"
    assert roles["donna"] == "communications"
    assert roles["flow"] == "engineering"
    assert roles["elon"] == "infrastructure"
    # The escalation table names roles: exactly one agent confirms for each.
    assert [a.name for a in fleet.agents if a.role == "orchestrator"] == ["jarvis"]
    assert [a.name for a in fleet.agents if a.role == "security"] == ["sentinel"]


def test_flow_has_no_exec_and_only_elon_does(fleet: Fleet) -> None:
    flow = fleet.agent("flow")
    assert flow is not None
    assert "exec" not in flow.capabilities
    assert {"read", "plan", "write"} <= set(flow.capabilities)
    assert [a.name for a in fleet.agents if "exec" in a.capabilities] == ["elon"]
    # Fleet-wide broadcast is a capability, not a default: only the orchestrator has it.
    assert [a.name for a in fleet.agents if "broadcast" in a.capabilities] == ["jarvis"]
    assert [a.name for a in fleet.agents if "email.send" in a.capabilities] == ["donna"]


def test_every_agent_has_its_own_credential_named_by_env_var(fleet: Fleet) -> None:
    credentials = [a.credential for a in fleet.agents]
    assert len(set(credentials)) == len(credentials) == 23
    for agent in fleet.agents:
        assert re.fullmatch(ENV_VAR_PATTERN.strip("^$"), agent.credential), agent.credential
        assert agent.name.upper() in agent.credential


def test_escalation_table_is_the_seeds(fleet: Fleet) -> None:
    # "P3 = self-log only. P2 = Sentinel confirms before broadcasting.
    #  P1 = Jarvis confirms. P0 = Jarvis + human approval."
    assert fleet.escalation == {
        "P0": EscalationRule(confirm_by=("orchestrator", "human"), reach="fleet"),
        "P1": EscalationRule(confirm_by=("orchestrator",), reach="fleet"),
        "P2": EscalationRule(confirm_by=("security",), reach="fleet"),
        "P3": EscalationRule(confirm_by=(), reach="self"),
    }


def test_value_ledger_reproduces_the_seeds_r228_500_per_month(fleet: Fleet) -> None:
    """The seed's conservative ROI, from the template's per-task rates.

    The template encodes minutes saved per finished task and a rand hourly rate per kind; the
    seed's monthly volumes are not in the file (they are what the fleet actually does), so
    they are supplied here:

        email triage     30 digests x  90 min x R2,500/h = R112,500
        legal documents   8 docs    x 240 min x R2,500/h =  R80,000
        infra incidents   8 (2/week, 4 weeks) x 180 min x R1,500/h = R36,000
        total                                            = R228,500

    The seed's 2 incidents/week gives R36,000 only with 4 weeks a month (8 incidents); with
    4.33 weeks it would be R38,970, so the seed's own figure is reproduced with 8.
    """
    rates = {rate.kind: rate for rate in fleet.value_ledger}
    assert set(rates) == {
        "email-triage",
        "legal-document",
        "infrastructure-incident",
        "service-outage",
    }
    # An outage the service watch opens is one of the seed's infra incidents, at the same rate.
    outage, incident = rates["service-outage"], rates["infrastructure-incident"]
    assert (outage.minutes_saved, outage.hourly_rate) == (
        incident.minutes_saved,
        incident.hourly_rate,
    )
    assert {rate.currency for rate in rates.values()} == {"ZAR"}
    tasks_per_month = {"email-triage": 30, "legal-document": 8, "infrastructure-incident": 8}
    saved = {
        kind: count * rates[kind].minutes_saved / 60 * rates[kind].hourly_rate
        for kind, count in tasks_per_month.items()
    }
    assert saved == {
        "email-triage": 112_500,
        "legal-document": 80_000,
        "infrastructure-incident": 36_000,
    }
    assert sum(saved.values()) == 228_500


def test_template_budgets_fit_the_seeds_monthly_spend(fleet: Fleet) -> None:
    # The seed ran 23 agents for ~$180-220/month of API spend.
    monthly = [a.budget.monthly_usd for a in fleet.agents]
    assert all(m is not None and m > 0 for m in monthly)
    total = sum(m for m in monthly if m is not None)
    assert 180 <= total <= 220, total


def test_every_channel_member_lists_the_channel_and_back(fleet: Fleet) -> None:
    members = {c.name: set(c.members) for c in fleet.channels}
    assert {"ops", "legal", "revenue", "security", "engineering", "exec-committee"} <= set(members)
    for agent in fleet.agents:
        listed = {name for name, people in members.items() if agent.name in people}
        assert listed == set(agent.channels), agent.name


def test_template_schedules_are_the_seeds_mornings_and_nights(fleet: Fleet) -> None:
    by_name = {s.name: s for s in fleet.schedules}
    digest = by_name["inbox-digest"]
    # "07:00 Donna: inbox digest", credited by the value ledger's email-triage rate.
    assert (digest.cron, digest.action, digest.assignee) == ("0 7 * * *", "task", "donna")
    assert digest.kind in {rate.kind for rate in fleet.value_ledger}
    assert digest.kind == "email-triage"
    briefing = by_name["morning-briefing"]
    assert (briefing.cron, briefing.action) == ("30 6 * * *", "briefing")
    assert [a.name for a in fleet.agents if a.role == "orchestrator"] == ["jarvis"]
    assert (by_name["memory-rollover"].cron, by_name["memory-rollover"].action) == (
        "0 0 * * *",
        "memory_rollover",
    )
    night = by_name["night-service-check"]
    assert (night.cron, night.action, night.agents) == ("0 3 * * *", "heartbeat", ("elon",))
    # Every schedule runs on the fleet's clock: Johannesburg, the seed's.
    assert fleet.fleet.timezone == "Africa/Johannesburg"
    assert all(s.zone(fleet.fleet.timezone) == "Africa/Johannesburg" for s in fleet.schedules)


def test_template_supervises_with_two_wake_attempts(fleet: Fleet) -> None:
    assert fleet.supervision.enabled and fleet.supervision.reassign
    assert fleet.supervision.max_wake_attempts == 2


def test_template_guards_production_and_blocks_private_networks_for_every_agent(
    fleet: Fleet,
) -> None:
    flow = fleet.agent("flow")
    assert flow is not None
    guard = fleet.guard_for(flow)
    assert "/srv/fibreflow/production/**" in guard.protected_paths
    assert guard.max_files_per_change == 200
    for agent in fleet.agents:
        blocked = set(fleet.guard_for(agent).blocked_networks)
        assert {"127.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16"} <= blocked, agent.name
        assert fleet.guard_for(agent).allowed_hosts == (), agent.name


def test_template_sandboxes_velo_and_says_the_mac_mini_has_none(fleet: Fleet) -> None:
    sandboxes = {m.name: m.sandbox for m in fleet.machines}
    assert sandboxes == {"mac-mini": "none", "velo": "bubblewrap"}
    # Nothing on the unconfined machine may run a command; Elon's run on velo, seeing staging.
    assert [
        a.name for a in fleet.agents if a.machine == "mac-mini" and "exec" in a.capabilities
    ] == []
    elon = fleet.agent("elon")
    assert elon is not None
    sandbox = fleet.sandbox_for(elon)
    assert (sandbox.kind, sandbox.read_write, sandbox.masked) == (
        "bubblewrap",
        ("/srv/fibreflow/staging",),
        (),
    )
    assert [(t.name, t.machine, t.path) for t in fleet.deploy_targets] == [
        ("fibreflow-staging", "velo", "/srv/fibreflow/staging")
    ]


def test_the_minimal_template_is_one_agent_on_one_machine_with_one_model(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(template_text(minimal=True), encoding="utf-8")
    minimal = load_fleet(path)
    assert [(a.name, a.machine, a.provider, a.model) for a in minimal.agents] == [
        ("assistant", "local", "anthropic", "claude-haiku-4-5")
    ]
    assert [m.name for m in minimal.machines] == ["local"]
    assert minimal.agents[0].credential == "MCOS_ASSISTANT_ANTHROPIC_KEY"
    assert "exec" not in minimal.agents[0].capabilities, "no shell on a machine without sandbox"
    assert fleet_warnings(minimal) == [], "`mcos fleet check` has nothing to warn about"
    # Every incident level can be confirmed by someone the fleet has.
    assert minimal.escalation["P2"].confirm_by == ("orchestrator",)
