"""The pure router: which rule matched on which words, and why this agent over the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcos.domain.routing import Candidate, RoutingRequest, Rule, matching_rules, route
from mcos.fleet import load_fleet
from mcos.fleet.loader import template_text
from mcos.services.routing import rules_of

RW = frozenset({"read", "plan", "write"})
RULES = [
    Rule("legal", keywords=("contract", "legal"), kinds=("legal-document",), role="legal"),
    Rule("email", keywords=("email", "inbox"), role="communications", capabilities=("email.send",)),
    Rule("infra", keywords=("outage", "deploy"), role="infrastructure", capabilities=("exec",)),
    Rule("security", keywords=("breach",), role="security", priority=10),
]


def agent(name: str, role: str, liveness: str = "idle", tasks: int = 0, *extra: str) -> Candidate:
    return Candidate(name, role, RW | set(extra), liveness, tasks)


FLEET = [
    agent("apex", "legal"),
    agent("donna", "communications", "idle", 0, "email.send"),
    agent("elon", "infrastructure", "working", 2, "exec"),
    agent("sentinel", "security"),
]


def test_a_keyword_routes_to_the_agent_of_the_rules_role_and_says_why() -> None:
    decision = route(RoutingRequest("Draft the supplier contract"), RULES, FLEET)
    assert (decision.agent, decision.rule) == ("apex", "legal")
    assert decision.summary == "routed to apex by rule 'legal'"
    text = decision.explanation
    assert "matched rule 'legal' (priority 0): the request mentions 'contract'" in text
    assert "chose apex (legal): role legal; idle; 0 open tasks" in text
    data = decision.as_dict()
    assert data["matched"] == [
        {"rule": "legal", "priority": 0, "words": ["contract"], "by_kind": False}
    ]
    assert data["considered"] == [
        {
            "agent": "apex",
            "rule": "legal",
            "chosen": True,
            "reason": "role legal; idle; 0 open tasks",
        }
    ]


def test_words_match_at_the_start_of_a_word_in_title_or_text_in_any_case() -> None:
    assert route(RoutingRequest("Fix it", "The DEPLOYMENT failed"), RULES, FLEET).agent == "elon"
    # "inbox" is not found inside "sinbox"; nothing else matches.
    nothing = route(RoutingRequest("Clean the sinbox"), RULES, FLEET)
    assert nothing.agent is None and nothing.summary.startswith("no rule matched: none of the 4")


def test_a_task_kind_matches_without_any_word() -> None:
    decision = route(RoutingRequest("Paperwork", kind="legal-document"), RULES, FLEET)
    assert decision.agent == "apex"
    assert "is of a kind it lists" in decision.explanation
    unknown = route(RoutingRequest("Paperwork", kind="gardening"), RULES, FLEET)
    assert unknown.agent is None and "or its kind 'gardening'" in unknown.summary


def test_priority_wins_then_the_later_rule_overrides_an_earlier_one() -> None:
    request = RoutingRequest("Breach during the deploy")
    assert [m.rule.name for m in matching_rules(request, RULES)] == ["security", "infra"]
    assert route(request, RULES, FLEET).agent == "sentinel"
    override = [*RULES, Rule("infra-to-ops", keywords=("deploy",), role="security")]
    assert [m.rule.name for m in matching_rules(RoutingRequest("deploy"), override)] == [
        "infra-to-ops",
        "infra",
    ]


def test_the_least_loaded_live_agent_is_chosen_and_the_others_are_explained() -> None:
    revenue = [Rule("sales", keywords=("lead",), role="revenue")]
    fleet = [
        agent("pulse", "revenue", "working", 3),
        agent("scout", "revenue", "idle", 1),
        agent("claw", "revenue", "offline", 0),
        agent("vault", "revenue", "suspended", 0),
        agent("ledger", "revenue", "working", 1),
        agent("apex", "legal"),
    ]
    decision = route(RoutingRequest("New lead from the expo"), revenue, fleet)
    assert decision.agent == "scout"
    verdicts = {v["agent"]: v["reason"] for v in decision.as_dict()["considered"]}
    assert verdicts == {
        "scout": "role revenue; idle; 1 open task (the least loaded of 3 that fit)",
        "pulse": "3 open tasks, more than scout's 1",
        "ledger": "working; scout (idle) comes first",
        "claw": "is offline",
        "vault": "is suspended",
    }
    assert "apex" not in verdicts  # another role is not a candidate at all


def test_capabilities_of_the_rule_and_of_the_request_are_both_required() -> None:
    fleet = [agent("elon", "infrastructure"), *FLEET[:2]]
    decision = route(RoutingRequest("Outage on velo"), RULES, fleet)
    assert decision.agent is None
    assert decision.summary == (
        "nobody alive fits: matched 'infra', but elon lacks exec; it waits in the inbox"
    )
    asks_more = RoutingRequest("Contract by email", capabilities=("spend",))
    refused = route(asks_more, RULES, FLEET)
    assert refused.agent is None
    assert "apex lacks spend" in refused.summary and "donna lacks spend" in refused.summary


def test_when_nobody_alive_fits_the_next_matching_rule_is_tried() -> None:
    fleet = [agent("apex", "legal", "stalled"), *FLEET[1:]]
    decision = route(RoutingRequest("Contract arrived by email"), [*RULES[:2]], fleet)
    # "email" is the later rule at equal priority, so it is tried first and wins.
    assert decision.agent == "donna"
    first_legal = route(
        RoutingRequest("Contract arrived by email"),
        [RULES[1], Rule("legal", keywords=("contract",), role="legal")],
        fleet,
    )
    assert first_legal.agent == "donna"
    assert first_legal.summary == "routed to donna by rule 'email' (nobody alive fits 'legal')"
    assert "skipped apex (legal): is stalled" in first_legal.explanation


def test_a_pinned_agent_is_the_only_candidate() -> None:
    pinned = [Rule("vip", keywords=("board",), agent="sentinel")]
    decision = route(RoutingRequest("Board pack"), pinned, FLEET)
    assert decision.agent == "sentinel"
    assert "pinned by the rule, role security" in decision.explanation
    gone = route(RoutingRequest("Board pack"), pinned, [agent("sentinel", "security", "offline")])
    assert gone.agent is None and "sentinel is offline" in gone.summary
    nobody = route(RoutingRequest("Board pack"), pinned, FLEET[:1])
    assert nobody.summary.startswith("nobody alive fits") and "no agent has the role" in (
        nobody.summary
    )


@pytest.mark.parametrize(
    ("title", "role"),
    [
        ("Review the Investment Participation Agreement", "legal"),
        ("Triage the inbox of the ISP", "communications"),
        ("Variance analysis for Velocity Fibre", "finance"),
        ("FibreFlow deploy failed at 3am", "infrastructure"),
        ("Possible breach on the velo server", "security"),
        ("POPIA request from a client", "compliance"),
        ("Payroll for the construction crew", "people"),
    ],
)
def test_the_templates_rules_route_the_seeds_work(tmp_path: Path, title: str, role: str) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(template_text(), encoding="utf-8")
    fleet = load_fleet(path)
    everyone = [
        Candidate(a.name, a.role, frozenset(a.capabilities), "idle", 0) for a in fleet.agents
    ]
    decision = route(RoutingRequest(title), rules_of(fleet), everyone)
    chosen = fleet.agent(decision.agent or "")
    assert chosen is not None and chosen.role == role, decision.explanation
