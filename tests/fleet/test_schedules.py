"""Bad ``[[schedules]]`` and ``[supervision]`` are refused at load, with the key and the fix.

Bad files are the built-in template with one edit, as in ``test_loader.py``.
"""

from __future__ import annotations

from mcos.fleet.loader import check_fleet_text
from tests.fleet.test_loader import edited, line_of, only_problem, problems_of

DIGEST_CRON = 'name = "inbox-digest"\ncron = "0 7 * * *"'


def test_a_bad_cron_names_the_schedule_the_field_and_the_fix() -> None:
    text = edited((DIGEST_CRON, 'name = "inbox-digest"\ncron = "0 25 * * *"'))
    problem = only_problem(text)
    assert problem.key == "schedules[0].cron"
    assert "bad hour field '25'" in problem.message
    assert "'0 7 * * *'" in problem.fix
    assert problem.line == line_of(text, 'cron = "0 25 * * *"')


def test_an_unknown_assignee_is_refused_with_a_suggestion_of_what_to_name() -> None:
    text = edited(('assignee = "donna"', 'assignee = "dona"'))
    problem = only_problem(text)
    assert problem.key == "schedules[0].assignee"
    assert "unknown agent 'dona'" in problem.message
    assert problem.fix == "name an agent of the fleet"


def test_two_schedules_with_one_name_are_refused() -> None:
    text = edited(('name = "memory-rollover"', 'name = "inbox-digest"'))
    problem = only_problem(text)
    assert problem.key == "schedules[2].name"
    assert "'inbox-digest' is defined twice" in problem.message


def test_a_briefing_without_an_orchestrator_fails_with_the_fix() -> None:
    text = edited(
        ('role = "orchestrator"                 #', 'role = "chief-of-staff"               #'),
        ('confirm_by = ["orchestrator", "human"]', 'confirm_by = ["chief-of-staff", "human"]'),
        ('confirm_by = ["orchestrator"]', 'confirm_by = ["chief-of-staff"]'),
    )
    problems = [p for p in problems_of(text) if p.key.startswith("schedules")]
    assert [p.key for p in problems] == ["schedules[1].action"]
    assert "no agent has role 'orchestrator'" in problems[0].message
    assert "role = 'orchestrator'" in problems[0].fix


def test_action_specific_keys_are_checked() -> None:
    no_title = only_problem(edited(('title = "Inbox digest"\n', "")))
    assert no_title.key == "schedules[0]"
    assert no_title.message == "schedule 'inbox-digest' creates a task but has no title"
    assert no_title.fix == "add title"
    nobody = only_problem(edited(('agents = ["elon"]', "agents = []")))
    assert "nudges nobody" in nobody.message and "roles = [...]" in nobody.fix
    unknown_role = only_problem(edited(('agents = ["elon"]', 'roles = ["infra"]')))
    assert unknown_role.key == "schedules[3].roles[0]"
    bad_zone = only_problem(
        edited(('cron = "30 6 * * *"', 'cron = "30 6 * * *"\ntimezone = "Mars/Olympus"'))
    )
    assert bad_zone.key == "schedules[1].timezone" and "Africa/Johannesburg" in bad_zone.fix


def test_supervision_limits_are_checked() -> None:
    problem = only_problem(edited(("max_wake_attempts = 2", "max_wake_attempts = -1")))
    assert problem.key == "supervision.max_wake_attempts"
    typo = only_problem(edited(("reassign = true\n\n#", "reasign = true\n\n#")))
    assert typo.key == "supervision.reasign" and "reassign" in typo.fix


def test_schedules_and_supervision_are_optional() -> None:
    text = edited(("[supervision]\nenabled = true", "[supervision]\nenabled = false"))
    fleet, problems = check_fleet_text(text)
    assert problems == [] and fleet is not None and not fleet.supervision.enabled
