"""The policy engine without a server: each rule, and the seed's rogue-agent failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mcos.fleet.guard import Guard
from mcos.fleet.loader import check_fleet_text, template_text
from mcos.fleet.schema import Agent, Fleet
from mcos.policy import (
    ACTION_KINDS,
    Action,
    Allow,
    Decision,
    Deny,
    Grant,
    NeedsApproval,
    PolicyRequest,
    decide,
    needs_grants,
)

NOW = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
CONTROL_PLANE = "127.0.0.1"  # the template's control_plane.url


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    loaded, problems = check_fleet_text(template_text())
    assert loaded is not None, problems
    return loaded


def agent(fleet: Fleet, name: str) -> Agent:
    found = fleet.agent(name)
    assert found is not None
    return found


def request(
    fleet: Fleet,
    who: Agent,
    action: Action,
    grants: tuple[Grant, ...] = (),
    *,
    now: datetime = NOW,
    control_plane: str = CONTROL_PLANE,
    **guard: object,
) -> PolicyRequest:
    """As the control plane asks: the fleet's guard extended by the agent's, then ``guard``."""
    effective = fleet.guard_for(who)
    return PolicyRequest(
        who,
        action,
        now,
        effective.model_copy(update=guard) if guard else effective,
        grants,
        control_plane_host=control_plane,
    )


def ask(
    fleet: Fleet, name: str, action: Action, control_plane: str = CONTROL_PLANE, **guard: object
) -> Decision:
    return decide(request(fleet, agent(fleet, name), action, control_plane=control_plane, **guard))


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
    decision = ask(fleet, "flow", Action("shell.exec", command))
    assert isinstance(decision, Deny)
    assert decision.rule == "capability"
    assert "'exec'" in decision.reason and "'flow'" in decision.reason


def test_a_restoration_lets_flow_exec_only_until_it_lapses(fleet: Fleet) -> None:
    flow = agent(fleet, "flow")
    grant = Grant("flow", "exec", expires_at=NOW + timedelta(minutes=30), approval_id=7)
    build = Action("shell.exec", "npm run build", paths=("/srv/fibreflow/staging",))
    assert isinstance(decide(request(fleet, flow, build, (grant,))), Allow)
    lapsed = decide(request(fleet, flow, build, (grant,), now=NOW + timedelta(minutes=31)))
    assert isinstance(lapsed, Deny) and lapsed.rule == "capability"
    other = Grant("gene", "exec", expires_at=NOW + timedelta(hours=1), approval_id=8)
    assert isinstance(decide(request(fleet, flow, build, (other,))), Deny)
    wrong = Grant("flow", "network", expires_at=NOW + timedelta(hours=1), approval_id=9)
    assert isinstance(decide(request(fleet, flow, build, (wrong,))), Deny)


def test_grants_are_read_only_when_they_can_change_the_decision(fleet: Fleet) -> None:
    """The control plane skips reading grants when ``needs_grants`` says no: for every agent and
    action kind, a grant of every capability then decides nothing differently."""
    flow = agent(fleet, "flow")
    assert needs_grants(flow, Action("shell.exec", "npm run build"))  # flow lacks exec
    assert not needs_grants(flow, Action("no.such.kind"))  # refused whatever is granted
    for who in fleet.agents:
        everything = tuple(
            Grant(who.name, needed, NOW + timedelta(hours=1), approval_id=1)
            for needed in set(ACTION_KINDS.values())
        )
        for kind in ACTION_KINDS:
            action = Action(kind, "true", paths=("/tmp/x",), host="example.com", target="t")
            if not needs_grants(who, action):
                assert decide(request(fleet, who, action, everything)) == decide(
                    request(fleet, who, action)
                ), (who.name, kind)


def test_even_restored_exec_stays_out_of_production(fleet: Fleet) -> None:
    flow = agent(fleet, "flow")
    grant = Grant("flow", "exec", expires_at=NOW + timedelta(minutes=30), approval_id=7)
    for path in ("/srv/fibreflow/production", "/srv/fibreflow/production/.next/cache"):
        build = Action("shell.exec", "next build", paths=(path,))
        decision = decide(request(fleet, flow, build, (grant,)))
        assert isinstance(decision, Deny) and decision.rule == "protected_path", path
    assert isinstance(
        ask(fleet, "flow", Action("file.read", paths=("/srv/fibreflow/production/a",))), Allow
    ), "reading is not what the protection is for"


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        ("/srv/fibreflow/staging/../production", "protected_path"),
        ("/srv/fibreflow/staging/../production/app.js", "protected_path"),
        ("//srv/fibreflow/./production/app.js", "protected_path"),
        ("/srv/fibreflow/production/", "protected_path"),
        ("/SRV/FibreFlow/Production/app.js", "protected_path"),  # the Mac Mini ignores case
        ("app.js", "relative_path"),
        ("../production/app.js", "relative_path"),
        ("/srv/fibreflow/staging/app.js", None),
        ("/srv/fibreflow/production-notes.md", None),
    ],
)
def test_no_spelling_of_a_path_steps_around_production(
    fleet: Fleet, path: str, rule: str | None
) -> None:
    decision = ask(fleet, "flow", Action("file.write", paths=(path,), files_touched=1))
    if rule is None:
        assert isinstance(decision, Allow), decision
    else:
        assert isinstance(decision, Deny) and decision.rule == rule, decision
        assert path in decision.reason


def test_a_commit_to_the_production_repository_is_refused(fleet: Fleet) -> None:
    commit = Action(
        "git.commit",
        paths=("/srv/fibreflow/staging/app.js",),
        files_touched=1,
        target="/srv/fibreflow/staging/../production",
    )
    decision = ask(fleet, "flow", commit)
    assert isinstance(decision, Deny) and decision.rule == "protected_path"
    assert "(that is /srv/fibreflow/production)" in decision.reason


def test_a_change_the_size_of_the_seeds_runaway_commit_is_refused(fleet: Fleet) -> None:
    paths = ("/srv/fibreflow/staging",)
    runaway = ask(fleet, "flow", Action("git.commit", paths=paths, files_touched=3_571))
    assert isinstance(runaway, Deny) and runaway.rule == "max_files_per_change"
    assert "3571 files" in runaway.reason and "at most 200" in runaway.reason
    assert isinstance(
        ask(fleet, "flow", Action("git.commit", paths=paths, files_touched=12)), Allow
    )


@pytest.mark.parametrize(
    ("name", "action", "missing"),
    [
        ("vega", Action("payment.send", recipient="supplier@fibre.za"), "amount_usd"),
        ("atlas", Action("http.fetch"), "host"),
        ("atlas", Action("http.fetch", host=""), "host"),
        ("donna", Action("email.send"), "recipient"),
        ("donna", Action("email.send", recipient="a@b.za"), "draft"),
        ("donna", Action("email.send", recipient="a@b.za", draft=3), "body_sha256"),
        ("elon", Action("shell.exec", paths=("/srv/fibreflow/staging",)), "command"),
        ("flow", Action("git.commit", paths=("/srv/fibreflow/staging",)), "files_touched"),
        ("flow", Action("git.commit", files_touched=3_571), "paths"),
        ("elon", Action("deploy.run", "rsync", files_touched=3), "target"),
        ("elon", Action("deploy.run", "rsync", target="fibreflow-staging"), "files_touched"),
        ("flow", Action("file.write", files_touched=1), "paths"),
        ("flow", Action("file.delete"), "paths"),
    ],
)
def test_an_action_missing_what_its_limits_need_is_refused(
    fleet: Fleet, name: str, action: Action, missing: str
) -> None:
    """Limits apply to what an agent declares: leaving it out must not step around them."""
    decision = ask(fleet, name, action)
    assert isinstance(decision, Deny) and decision.rule == "incomplete_action", decision
    assert f"{action.kind} without {missing} is refused" in decision.reason


def test_unknown_action_kinds_are_refused_not_allowed(fleet: Fleet) -> None:
    decision = ask(fleet, "jarvis", Action("shell.sudo", "rm -rf /"))
    assert isinstance(decision, Deny) and decision.rule == "unknown_action"
    assert "shell.exec" in decision.reason, "the refusal lists the kinds that exist"


SEND = Action("email.send", recipient="a@b.za", draft=1, body_sha256="0" * 64)


def test_capabilities_map_to_kinds(fleet: Fleet) -> None:
    sending = ask(fleet, "donna", SEND)
    assert isinstance(sending, NeedsApproval) and sending.rule == "ask_first"
    assert isinstance(ask(fleet, "elon", SEND), Deny)
    assert isinstance(ask(fleet, "elon", Action("shell.exec", "systemctl restart x")), Allow)
    broadcast = ask(fleet, "sentinel", Action("message.broadcast"))
    assert isinstance(broadcast, Deny) and "'broadcast'" in broadcast.reason


BILLING = ("billing.internal:8443", "[fd00::5]")
"""The exceptions atlas is given below: one internal service, by name and port or address."""
TAILNET = "mc.tailnet.example"
"""A control plane reached by name, as the seed's two machines reach each other."""


@pytest.mark.parametrize(
    ("host", "addresses", "port", "rule"),
    [
        # Every spelling of loopback, as an IP literal with nothing to resolve.
        ("127.1", (), 80, "blocked_network"),
        ("0x7f000001", (), 80, "blocked_network"),
        ("2130706433", (), 80, "blocked_network"),
        ("0177.0.0.1", (), 80, "blocked_network"),
        ("[::ffff:127.0.0.1]", (), 80, "blocked_network"),
        ("::1", (), 80, "blocked_network"),
        ("[::1]", (), 80, "blocked_network"),
        ("0.0.0.0", (), 80, "blocked_network"),
        ("localhost", ("127.0.0.1", "::1"), 80, "blocked_network"),
        # The cloud metadata service, by address and by name in any case.
        ("169.254.169.254", (), 80, "blocked_network"),
        ("[fd00:ec2::254]", (), 80, "blocked_network"),
        ("Metadata.Google.Internal.", ("169.254.169.254",), 80, "blocked_host"),
        # Names: any resolved address in a blocked network refuses the fetch.
        ("intranet.example", ("10.0.0.5",), 443, "blocked_network"),
        ("mixed.example", ("93.184.216.34", "10.0.0.5"), 443, "blocked_network"),
        ("nas.tailnet.example", ("100.101.102.104",), 443, "blocked_network"),
        ("mapped.example", ("::ffff:10.0.0.5",), 443, "blocked_network"),
        ("sixtofour.example", ("2002:a9fe:a9fe::1",), 443, "blocked_network"),
        ("nat64.example", ("64:ff9b::a00:5",), 443, "blocked_network"),
        # Public addresses and names are reached.
        ("example.org", ("93.184.216.34", "2606:2800:220:1::"), 443, None),
        ("93.184.216.34", (), 80, None),
        # The exception opens its one host and port, not its neighbours.
        ("billing.internal", ("10.0.0.5",), 8443, None),
        ("BILLING.internal.", ("10.0.0.5",), 8443, None),
        ("billing.internal", ("10.0.0.5",), 22, "blocked_network"),
        ("billing.internal.evil.example", ("10.0.0.5",), 8443, "blocked_network"),
        ("fd00::5", (), 80, None),
        ("fd00::6", (), 80, "blocked_network"),
        # The control plane is never reached, though an exception names it.
        (TAILNET, ("100.101.102.103",), 8750, "control_plane"),
        ("MC.Tailnet.Example.", ("100.101.102.103",), 443, "control_plane"),
        # Neither an address nor a name.
        ("1.2.3.999", (), 80, "invalid_host"),
        ("example.org", ("example.org",), 80, "invalid_host"),
    ],
)
def test_a_fetch_reaches_no_blocked_address_however_it_is_spelt(
    fleet: Fleet, host: str, addresses: tuple[str, ...], port: int, rule: str | None
) -> None:
    exceptions = (*BILLING, TAILNET)  # a fleet file naming the control plane would not load
    fetch = Action("http.fetch", host=host, addresses=addresses, port=port)
    decision = ask(fleet, "atlas", fetch, control_plane=TAILNET, allowed_hosts=exceptions)
    if rule is None:
        assert isinstance(decision, Allow), decision
    else:
        assert isinstance(decision, Deny) and decision.rule == rule, decision
        assert host in decision.reason


@pytest.mark.parametrize(
    ("host", "addresses"),
    [
        ("127.0.0.1", ()),
        ("0x7f.1", ()),
        ("[::ffff:127.0.0.1]", ()),
        ("alias.example", ("127.0.0.1",)),
        ("alias.example", ("::ffff:127.0.0.1",)),
    ],
)
def test_the_control_plane_is_never_reached_whatever_the_exceptions(
    fleet: Fleet, host: str, addresses: tuple[str, ...]
) -> None:
    fetch = Action("http.fetch", host=host, addresses=addresses, port=8750)
    decision = ask(fleet, "atlas", fetch, allowed_hosts=(host, "127.0.0.1", "alias.example"))
    assert isinstance(decision, Deny) and decision.rule == "control_plane", decision
    assert "(127.0.0.1); no agent may fetch from it, whatever its guard's exceptions" in (
        decision.reason
    )


def test_a_refused_fetch_says_what_the_host_was_and_how_to_open_it(fleet: Fleet) -> None:
    decision = ask(fleet, "atlas", Action("http.fetch", host="0x7f000001", port=80), TAILNET)
    assert isinstance(decision, Deny)
    assert decision.reason == (
        "host 0x7f000001 is 127.0.0.1, in blocked network 127.0.0.0/8, which agent 'atlas' may "
        "not reach (an operator may add the host to its guard's allowed_hosts)"
    )
    named = ask(fleet, "atlas", Action("http.fetch", host="db.example", addresses=("10.0.0.5",)))
    assert isinstance(named, Deny) and "db.example resolves to 10.0.0.5" in named.reason


def test_blocked_hosts_and_payments(fleet: Fleet) -> None:
    base = agent(fleet, "atlas")
    capable = base.model_copy(update={"capabilities": (*base.capabilities, "spend")})
    guarded = {"blocked_hosts": ("*.internal",), "max_spend_usd": 50.0}
    fetch = ask(fleet, "atlas", Action("http.fetch", host="Billing.INTERNAL."), **guarded)
    assert isinstance(fetch, Deny) and fetch.rule == "blocked_host"
    assert "(that is billing.internal)" in fetch.reason
    assert isinstance(
        ask(fleet, "atlas", Action("http.fetch", host="example.org"), **guarded), Allow
    )
    small = decide(request(fleet, capable, Action("payment.send", amount_usd=20), **guarded))
    large = decide(request(fleet, capable, Action("payment.send", amount_usd=2_000), **guarded))
    assert isinstance(small, Allow)
    assert isinstance(large, NeedsApproval) and large.approvers == ("human",)
    unguarded = ask(fleet, "atlas", Action("payment.send", amount_usd=20), **guarded)
    assert isinstance(unguarded, Deny), "no spend capability: refused before any approval"


def test_the_fleets_guard_holds_for_agents_whose_own_says_nothing(fleet: Fleet) -> None:
    """The control plane decides with fleet.guard_for(agent): the agent's own guard is empty."""
    atlas = agent(fleet, "atlas")
    assert atlas.guard == Guard()
    fetch = Action("http.fetch", host="127.1", port=80)
    assert isinstance(decide(request(fleet, atlas, fetch)), Deny)
    alone = PolicyRequest(atlas, fetch, NOW, atlas.guard, control_plane_host=None)
    assert isinstance(decide(alone), Allow), "which is why the request carries the merged one"


def test_ask_first_holds_an_allowed_kind_for_a_person_every_time(fleet: Fleet) -> None:
    restart = Action("shell.exec", "systemctl restart fibreflow")
    assert isinstance(ask(fleet, "elon", restart), Allow)
    decision = ask(fleet, "elon", restart, ask_first=("shell.exec",))
    assert isinstance(decision, NeedsApproval)
    assert decision.rule == "ask_first" and decision.approvers == ("human",)
    # It holds only the kinds it names, and never turns a refusal into a question.
    public = Action("http.fetch", host="x.co", addresses=("93.184.216.34",), port=443)
    assert isinstance(ask(fleet, "elon", public, ask_first=("shell.exec",)), Allow)
    assert isinstance(ask(fleet, "flow", restart, ask_first=("shell.exec",)), Deny)
    blocked = Action("http.fetch", host="127.1", port=80)
    assert isinstance(ask(fleet, "elon", blocked, ask_first=("http.fetch",)), Deny)


def test_ask_first_names_only_known_action_kinds() -> None:
    text = template_text().replace(
        "max_files_per_change = 200", 'max_files_per_change = 200\nask_first = ["shell.run"]'
    )
    loaded, problems = check_fleet_text(text)
    assert loaded is None
    assert any("ask_first" in p.key and "shell.exec" in p.fix for p in problems), problems
