"""``[[services]]`` in the fleet file: the template's nine velo services load, bad entries are
refused at load with the key and the fix, and a build is recognised by its command."""

from __future__ import annotations

import re

import pytest

from mcos.fleet.loader import check_fleet_text, template_text
from mcos.fleet.services import is_build

FIRST_EXAMPLE = "# [[services]]"
NEXT_SECTION = "# " + "-" * 75 + "\n# Notify"


def uncommented() -> str:
    """The template with its commented ``[[services]]`` examples switched on."""
    text = template_text()
    start, end = text.index(FIRST_EXAMPLE), text.index(NEXT_SECTION)
    return text[:start] + re.sub(r"^# ?", "", text[start:end], flags=re.MULTILINE) + text[end:]


def with_service(entry: str) -> str:
    return template_text() + "\n[[services]]\n" + entry


def problems_of(text: str) -> list[str]:
    fleet, problems = check_fleet_text(text)
    assert fleet is None, "the fleet file should have been refused"
    return [f"{p.key}: {p.message} / fix: {p.fix}" for p in problems]


def test_the_seeds_nine_velo_services_load_with_elon_as_their_owner() -> None:
    fleet, problems = check_fleet_text(uncommented())
    assert problems == [] and fleet is not None
    watched = [s for s in fleet.services if s.name != "mission-control"]
    assert len(watched) == 9
    assert {s.kind for s in watched} == {"http", "tcp", "systemd"}
    assert {fleet.owner_of(s) for s in watched} == {"elon"}
    web = fleet.service("fibreflow-web")
    assert web is not None and web.production and web.runbook.restart is not None
    assert web.runbook.restart.policy == "allow"


def test_the_live_example_is_harmless() -> None:
    fleet, problems = check_fleet_text(template_text())
    assert problems == [] and fleet is not None
    [live] = fleet.services
    assert (live.kind, live.machine, live.remedies) == ("process", "mac-mini", {})


@pytest.mark.parametrize(
    ("entry", "key", "said"),
    [
        (
            'name = "web"\nmachine = "mars"\nkind = "tcp"\nport = 80\n',
            "machine",
            "no machine named 'mars'",
        ),
        (
            'name = "web"\nmachine = "mac-mini"\nkind = "tcp"\nport = 80\n',
            "owner",
            "names no owner",
        ),
        (
            'name = "web"\nmachine = "velo"\nowner = "jarvis"\nkind = "tcp"\nport = 80\n',
            "owner",
            "runs on 'mac-mini', not on 'velo'",
        ),
        (
            'name = "web"\nmachine = "velo"\nowner = "nobody"\nkind = "tcp"\nport = 80\n',
            "owner",
            "no agent named 'nobody'",
        ),
        (
            'name = "web"\nmachine = "velo"\nowner = "gene"\nkind = "tcp"\nport = 80\n'
            '[services.runbook]\nrestart = { command = "systemctl restart web" }\n',
            "runbook.restart",
            "lacks 'exec'",
        ),
        (
            'name = "mission-control"\nmachine = "velo"\nkind = "tcp"\nport = 80\n',
            "name",
            "listed twice",
        ),
    ],
)
def test_a_bad_service_is_refused_at_load_naming_the_key_and_the_fix(
    entry: str, key: str, said: str
) -> None:
    problems = problems_of(with_service(entry))
    assert [p for p in problems if p.startswith(f"services[1].{key}: ") and said in p], problems
    assert all("/ fix: " in p for p in problems)


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        ('name = "web"\nmachine = "velo"\nkind = "ftp"\n', "kind"),
        ('name = "web"\nmachine = "velo"\nkind = "tcp"\n', "port"),
        ('name = "web"\nmachine = "velo"\nkind = "http"\nurl = "ftp://x"\n', "url"),
        (
            'name = "web"\nmachine = "velo"\nkind = "http"\nurl = "http://x/"\n'
            "expect_status = [999]\n",
            "not a list of HTTP statuses",
        ),
        (
            'name = "web"\nmachine = "velo"\nkind = "http"\nurl = "http://x/"\n'
            'expect_body = "re:(("\n',
            "not a valid regular expression",
        ),
        ('name = "web"\nmachine = "velo"\nkind = "process"\npattern = "[a"\n', "pattern"),
        ('name = "web"\nmachine = "velo"\nkind = "systemd"\nunit = "nginx"\n', "unit"),
        (
            'name = "web"\nmachine = "velo"\nkind = "tcp"\nport = 80\nauto_restart = true\n'
            '[services.runbook]\nrestart = { command = "systemctl restart web" }\n',
            'policy = "allow"',
        ),
        (
            'name = "web"\nmachine = "velo"\nkind = "tcp"\nport = 80\n'
            '[services.runbook]\nrestart = { command = "x", policy = "sometimes" }\n',
            "allow",
        ),
        ('name = "web"\nmachine = "velo"\nkind = "tcp"\nport = 80\nseverity = "P9"\n', "P0"),
    ],
)
def test_a_malformed_service_is_refused(entry: str, said: str) -> None:
    problems = problems_of(with_service(entry))
    assert problems and all(p.startswith("services[1]") for p in problems), problems
    assert any(said in p for p in problems), problems


@pytest.mark.parametrize(
    ("command", "builds"),
    [
        ("make", True),
        ("cd /srv/fibreflow && npm run build && systemctl restart web", True),
        ("npx next build", True),
        ("docker compose build web", True),
        ("pnpm build", True),
        ("systemctl restart fibreflow-web", False),
        ("docker restart n8n", False),
        ("/srv/fibreflow/bin/rollback-previous", False),
        ("echo makefile", False),
    ],
)
def test_a_build_is_recognised_by_its_command(command: str, builds: bool) -> None:
    assert is_build(command) is builds
