"""Each bad fleet file is refused with the key, the fix and, where it can be found, the line.

Bad files are the built-in template with one edit, so each test shows only what is wrong.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mcos.fleet import FleetFileError, FleetProblem, load_fleet
from mcos.fleet.loader import check_fleet_text, template_text

TEMPLATE = template_text()


def edited(*replacements: tuple[str, str]) -> str:
    """The template with each ``old`` (which must occur exactly once) replaced by ``new``."""
    text = TEMPLATE
    for old, new in replacements:
        assert text.count(old) == 1, f"template changed: {old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    return text


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the ``occurrence``-th line containing ``needle``."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


def problems_of(text: str) -> list[FleetProblem]:
    fleet, problems = check_fleet_text(text)
    assert fleet is None
    assert problems
    return problems


def only_problem(text: str) -> FleetProblem:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


def test_the_template_itself_has_no_problems() -> None:
    fleet, problems = check_fleet_text(TEMPLATE)
    assert problems == []
    assert fleet is not None


def test_two_agents_on_one_credential_explains_the_shared_rate_limit() -> None:
    text = edited(
        ('credential = "MCOS_DONNA_ANTHROPIC_KEY"', 'credential = "MCOS_JARVIS_ANTHROPIC_KEY"')
    )
    problem = only_problem(text)
    assert problem.key == "agents[1].credential"
    assert "'donna'" in problem.message
    assert "'jarvis'" in problem.message
    assert "MCOS_JARVIS_ANTHROPIC_KEY" in problem.message
    assert "own credential" in problem.fix
    assert "rate limit" in problem.fix
    assert problem.line == line_of(text, 'credential = "MCOS_JARVIS_ANTHROPIC_KEY"', 2)


def test_a_list_of_two_credentials_is_refused_as_doubling_the_burn() -> None:
    text = edited(
        (
            'credential = "MCOS_DONNA_ANTHROPIC_KEY"',
            'credential = ["MCOS_DONNA_ANTHROPIC_KEY", "MCOS_DONNA_BACKUP_KEY"]',
        )
    )
    problem = only_problem(text)
    assert problem.key == "agents[1].credential"
    assert "exactly one credential" in problem.message
    assert "doubles the burn" in problem.fix
    assert problem.line == line_of(text, "MCOS_DONNA_BACKUP_KEY")


@pytest.mark.parametrize("extra_key", ["credentials", "failover_credential"])
def test_a_second_credential_key_is_refused(extra_key: str) -> None:
    text = edited(
        (
            'credential = "MCOS_DONNA_ANTHROPIC_KEY"',
            f'credential = "MCOS_DONNA_ANTHROPIC_KEY"\n{extra_key} = "MCOS_DONNA_BACKUP_KEY"',
        )
    )
    problem = only_problem(text)
    assert problem.key == f"agents[1].{extra_key}"
    assert "exactly one credential" in problem.message
    assert "remove it" in problem.fix
    assert "doubles the burn" in problem.fix
    assert problem.line == line_of(text, f"{extra_key} = ")


def test_unknown_machine_suggests_the_close_one() -> None:
    text = edited(
        ('title = "Infrastructure (CTO)"\nmachine = "velo"', 'title = "CTO"\nmachine = "vello"')
    )
    problem = only_problem(text)
    assert problem.key == "agents[4].machine"
    assert problem.message == "agent 'elon' names unknown machine 'vello'"
    assert problem.fix.startswith("did you mean 'velo'?")
    assert "[[machines]]" in problem.fix
    assert problem.line == line_of(text, 'machine = "vello"')


def test_unknown_key_in_an_agent_suggests_the_known_one() -> None:
    text = edited(('title = "Legal & Protocol"', 'title = "Legal"\ncapabilites = ["read"]'))
    problem = only_problem(text)
    assert problem.key == "agents[2].capabilites"
    assert "unknown key 'capabilites'" in problem.message
    assert "did you mean 'capabilities'?" in problem.fix
    assert problem.line == line_of(text, "capabilites = ")


def test_missing_required_key_names_the_agent() -> None:
    text = edited(('title = "Finance & Analysis"\nmachine = "mac-mini"\n', 'title = "Finance"\n'))
    problem = only_problem(text)
    assert problem.key == "agents[3].machine"
    assert "(agent 'vega')" in problem.message
    assert "required" in problem.message.lower()
    assert problem.fix == "add it"
    # The key is absent, so the best line is the start of vega's [[agents]] table.
    assert problem.line == line_of(text, 'name = "vega"') - 1
    assert text.splitlines()[problem.line - 1] == "[[agents]]"


def test_bad_toml_syntax_gives_the_line() -> None:
    text = edited(('name = "Specter Holdings"', 'name = "Specter Holdings'))
    problem = only_problem(text)
    assert problem.key == "(syntax)"
    assert "not valid TOML" in problem.message
    assert problem.line == line_of(text, 'name = "Specter Holdings')


def test_unknown_supervisor_suggests_an_agent() -> None:
    text = edited(('supervisor = "elon"', 'supervisor = "elonn"'))
    problem = only_problem(text)
    assert problem.key == "agents[6].supervisor"
    assert "'elonn' is not an agent" in problem.message
    assert problem.fix.startswith("did you mean 'elon'?")
    assert "'operator'" in problem.fix
    assert problem.line == line_of(text, 'supervisor = "elonn"')


def test_channel_member_that_is_no_agent() -> None:
    text = edited(
        (
            'members = ["elon", "flow", "sentinel", "nexus"]',
            'members = ["elon", "flow", "sentinel", "nexxus"]',
        )
    )
    by_key = {p.key: p for p in problems_of(text)}
    problem = by_key["channels[5].members[3]"]
    assert problem.message == "channel 'engineering' lists unknown agent 'nexxus'"
    assert problem.fix.startswith("did you mean 'nexus'?")
    assert problem.line == line_of(text, '"nexxus"')
    # nexus still lists the channel it is no longer a member of: said too, with the fix.
    stray = next(p for p in by_key.values() if p.key.endswith(".channels[1]"))
    assert "'nexus' lists channel 'engineering'" in stray.message
    assert "add 'nexus' to the members of channel 'engineering'" in stray.fix


def test_channel_membership_written_in_one_place_only() -> None:
    # flow stops listing "ops" but the channel still names it as a member.
    text = edited(
        (
            'supervisor = "elon"\nchannels = ["ops", "engineering"]',
            'supervisor = "elon"\nchannels = ["engineering"]',
        )
    )
    problem = only_problem(text)
    assert problem.key == "channels[1].members[3]"
    assert problem.message == "channel 'ops' lists 'flow', whose channels do not include it"
    assert "add 'ops' to the channels of agent 'flow'" in problem.fix
    assert problem.line == line_of(text, "Day-to-day operations") + 1  # ops' `members = [`


def test_escalation_rule_naming_a_role_no_agent_has() -> None:
    text = edited(('confirm_by = ["security"]', 'confirm_by = ["securty"]'))
    problem = only_problem(text)
    assert problem.key == "escalation.P2.confirm_by[0]"
    assert "no agent has role 'securty'" in problem.message
    assert "P2 incidents could never be confirmed" in problem.message
    assert problem.fix.startswith("did you mean 'security'?")
    assert problem.line == line_of(text, 'confirm_by = ["securty"]')


def test_missing_severity_says_which_table_to_add() -> None:
    text = edited(('[escalation.P3]\nconfirm_by = []\nreach = "self"\n', ""))
    problem = only_problem(text)
    assert problem.key == "escalation"
    assert problem.message == "severity P3 has no rule"
    assert "[escalation.P3]" in problem.fix
    assert problem.line == line_of(text, "[escalation.P0]")


def test_liveness_thresholds_out_of_order() -> None:
    text = edited(("stalled_after_seconds = 900 ", "stalled_after_seconds = 4000 "))
    problem = only_problem(text)
    assert problem.key == "liveness"
    assert "out of order" in problem.message
    assert "stalled_after_seconds=4000" in problem.message
    assert "offline_after_seconds=3600" in problem.message
    assert problem.fix == "make heartbeat_seconds < stalled_after_seconds < offline_after_seconds"
    assert problem.line == line_of(text, "[liveness]")


def test_a_secret_in_place_of_an_env_var_name_is_refused_and_not_echoed() -> None:
    secret = "sk-ant-api03-a1b2c3d4e5f6g7h8"
    text = edited(('credential = "MCOS_DONNA_ANTHROPIC_KEY"', f'credential = "{secret}"'))
    problem = only_problem(text)
    assert problem.key == "agents[1].credential"
    assert "not an environment-variable name" in problem.message
    assert "name the environment variable" in problem.fix
    assert "never the key itself" in problem.fix
    assert problem.line == line_of(text, secret)
    assert secret not in problem.render("fleet.toml")


def test_unknown_time_zone_names_an_iana_example() -> None:
    text = edited(('timezone = "Africa/Johannesburg"', 'timezone = "Africa/Joburg"'))
    problem = only_problem(text)
    assert problem.key == "fleet.timezone"
    assert problem.message == "unknown time zone 'Africa/Joburg'"
    assert "IANA" in problem.fix
    assert "'Africa/Johannesburg'" in problem.fix
    assert problem.line == line_of(text, 'timezone = "Africa/Joburg"')


def test_context_reserve_larger_than_the_window() -> None:
    text = edited(
        (
            'channels = ["exec-committee", "legal"]\n[agents.budget]',
            'channels = ["exec-committee", "legal"]\n'
            "[agents.context]\nreserve_floor = 190000\nsoft_threshold = 20000\n[agents.budget]",
        )
    )
    problem = only_problem(text)
    assert problem.key == "agents[2]"
    assert "(agent 'apex')" in problem.message
    assert "(210000) must be below context_window (200000)" in problem.message
    assert "lower context.reserve_floor" in problem.fix
    assert problem.line == line_of(text, 'name = "apex"') - 1


def test_several_value_problems_are_all_reported() -> None:
    text = edited(
        ('timezone = "Africa/Johannesburg"', 'timezone = "Mars/Olympus"'),
        ('title = "Legal & Protocol"', 'titel = "Legal & Protocol"'),
        ('credential = "MCOS_DONNA_ANTHROPIC_KEY"', 'credential = "sk-ant-123"'),
    )
    keys = [p.key for p in problems_of(text)]
    assert sorted(keys) == ["agents[1].credential", "agents[2].titel", "fleet.timezone"]


def test_several_reference_problems_are_all_reported(tmp_path: Path) -> None:
    text = edited(
        ('title = "Infrastructure (CTO)"\nmachine = "velo"', 'title = "CTO"\nmachine = "vello"'),
        ('supervisor = "elon"', 'supervisor = "elonn"'),
        ('credential = "MCOS_DONNA_ANTHROPIC_KEY"', 'credential = "MCOS_JARVIS_ANTHROPIC_KEY"'),
        ('confirm_by = ["security"]', 'confirm_by = ["securty"]'),
    )
    path = tmp_path / "fleet.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FleetFileError) as caught:
        load_fleet(tmp_path)  # a folder means the fleet.toml inside it
    error = caught.value
    assert error.path == path
    assert [p.key for p in error.problems] == [
        "agents[1].credential",
        "agents[4].machine",
        "agents[6].supervisor",
        "escalation.P2.confirm_by[0]",
    ]
    assert error.message.startswith(f"4 problem(s) in {path}\n")
    for problem in error.problems:
        assert problem.render(path) in error.message
    assert error.field == "agents[1].credential"


def test_a_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(FleetFileError) as caught:
        load_fleet(tmp_path / "nowhere" / "fleet.toml")
    (problem,) = caught.value.problems
    assert problem.message == "no such file"
    assert "mcos init" in problem.fix


def test_an_agent_defined_twice() -> None:
    text = edited(('name = "quill"', 'name = "muse"'))
    by_key = {p.key: p for p in problems_of(text)}
    assert by_key["agents[22].name"].message == "agent 'muse' is defined twice"


def test_render_is_file_line_key_message_then_fix() -> None:
    problem = FleetProblem("agents[4].machine", "unknown machine", "use 'velo'", line=159)
    assert problem.render("f/fleet.toml") == (
        "f/fleet.toml:159: agents[4].machine: unknown machine\n    fix: use 'velo'"
    )
    no_line = FleetProblem("escalation", "severity P3 has no rule", "add it")
    assert no_line.render("fleet.toml").startswith("fleet.toml: escalation: ")


def test_value_ledger_kinds_are_listed_once() -> None:
    text = edited(('kind = "legal-document"', 'kind = "email-triage"'))
    problem = only_problem(text)
    assert problem.key == "value_ledger[1].kind"  # the second one, the copy
    assert problem.message == "kind of work is listed 2 times"


@pytest.mark.parametrize(
    ("rate", "message"),
    [("ZAR = -1", "a rate is units of ZAR per US dollar, > 0"), ("rand = 19", "not a currency")],
)
def test_exchange_rates_are_currency_codes_with_positive_rates(rate: str, message: str) -> None:
    problem = only_problem(edited(("ZAR = 19.0", rate)))
    assert problem.key.startswith("exchange_rates")
    assert message in problem.message


def test_routing_rules_name_known_roles_agents_and_capabilities() -> None:
    legal = 'name = "legal"\nmatch = { keywords = ["legal", "contract"'
    unknown_role = only_problem(edited(('role = "scribe"\n\n', 'role = "scrib"\n\n')))
    assert unknown_role.key == "routing[14].role"
    assert "no agent has role 'scrib'" in unknown_role.message
    assert unknown_role.fix.startswith("did you mean 'scribe'?")
    assert unknown_role.line == line_of(
        edited(('role = "scribe"\n\n', 'role = "scrib"\n\n')), 'role = "scrib"'
    )

    capability = only_problem(
        edited(('capabilities = ["email.send"]\n\n', 'capabilities = ["email.sned"]\n\n'))
    )
    assert capability.key == "routing[0].capabilities[0]"
    assert "'email.sned' is not known" in capability.message
    assert "did you mean 'email.send'?" in capability.fix

    nobody_holds = only_problem(
        edited(('capabilities = ["email.send"]\n\n', 'capabilities = ["spend"]\n\n'))
    )
    assert nobody_holds.key == "routing[0].capabilities"
    assert "could never route" in nobody_holds.message

    twice = only_problem(edited(('name = "minutes"', 'name = "email"')))
    assert twice.key == "routing[14].name" and "higher priority" in twice.fix

    pinned = only_problem(edited((legal, 'agent = "donna"\n' + legal)))
    assert pinned.key == "routing[1].agent"
    assert "has role 'communications', not 'legal'" in pinned.message

    empty = only_problem(
        edited(('match = { keywords = ["minutes", "decision log"] }', "match = {}"))
    )
    assert empty.key == "routing[14].match"
    assert empty.fix == "give match.keywords or match.kinds"

    untargeted = only_problem(edited(('role = "scribe"\n\n', "\n")))
    assert untargeted.key == "routing[14]" and "give it a role or an agent" in untargeted.fix
