"""Agents that run in another runtime (``runtime = "external"``): in the fleet, never run by
``mcos run``, and without a credential of their own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcos.fleet.loader import check_fleet_text, template_text
from mcos.fleet.schema import Fleet
from mcos.runtime.runner import CannotStart, check_agents, select_agents
from tests.fixtures.server import mcos_env, run_mcos

DONNA_KEY = 'credential = "MCOS_DONNA_ANTHROPIC_KEY"\n'


def with_donna(replacement: str) -> str:
    text = template_text()
    assert text.count(DONNA_KEY) == 1, "template changed: donna's credential line"
    return text.replace(DONNA_KEY, replacement)


def fleet_of(text: str) -> Fleet:
    fleet, problems = check_fleet_text(text)
    assert fleet is not None, problems
    return fleet


def test_an_external_agent_needs_no_credential_and_keeps_its_model() -> None:
    fleet = fleet_of(with_donna('runtime = "external"\n'))
    donna = fleet.agent("donna")
    assert donna is not None
    assert donna.external and donna.credential is None
    assert (donna.provider, donna.model) == ("anthropic", "claude-sonnet-4-6"), "prices its usage"
    jarvis = fleet.agent("jarvis")
    assert jarvis is not None and not jarvis.external, "runtime defaults to mcos"


def test_an_agent_mcos_runs_without_a_credential_is_told_both_fixes() -> None:
    text = with_donna("")
    fleet, problems = check_fleet_text(text)
    assert fleet is None
    assert [p.key for p in problems] == ["agents[1].credential"]
    problem = problems[0]
    assert "no credential" in problem.message
    assert 'runtime = "external"' in problem.fix, "the fix names the other way out"
    assert 'credential = "MCOS_<NAME>_<PROVIDER>_KEY"' in problem.message + problem.fix


def test_an_unknown_runtime_is_refused_with_the_choices() -> None:
    fleet, problems = check_fleet_text(with_donna(DONNA_KEY + 'runtime = "openclaw"\n'))
    assert fleet is None
    assert [p.key for p in problems] == ["agents[1].runtime"]
    assert "'mcos' or 'external'" in problems[0].message


def test_external_agents_may_not_share_a_credential_either() -> None:
    text = with_donna('runtime = "external"\ncredential = "MCOS_JARVIS_ANTHROPIC_KEY"\n')
    fleet, problems = check_fleet_text(text)
    assert fleet is None
    assert [p.key for p in problems] == ["agents[1].credential"]


def test_mcos_run_never_runs_an_external_agent() -> None:
    fleet = fleet_of(with_donna('runtime = "external"\n'))
    chosen = select_agents(fleet, "mac-mini")
    assert "donna" not in [a.name for a in chosen]
    assert "jarvis" in [a.name for a in chosen]
    # Its missing key is no reason not to start the others.
    assert check_agents(fleet, chosen, {a.key_variable: "k" for a in chosen}) == []
    with pytest.raises(CannotStart, match="'donna' runs in another runtime") as caught:
        select_agents(fleet, None, ["donna"])
    assert "mcos tokens issue --agent donna" in caught.value.problems[0].fix


def test_a_machine_of_external_agents_only_has_nothing_to_run() -> None:
    text = template_text()
    fleet = fleet_of(text)
    on_velo = [a for a in fleet.agents if a.machine == "velo"]
    external = fleet.model_copy(
        update={
            "agents": tuple(
                a.model_copy(update={"runtime": "external"}) if a.machine == "velo" else a
                for a in fleet.agents
            )
        }
    )
    assert on_velo
    with pytest.raises(CannotStart, match="all of them run elsewhere"):
        select_agents(external, "velo")


def test_fleet_check_explains_external_agents(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(with_donna('runtime = "external"\n'), encoding="utf-8")
    env = mcos_env(tmp_path)
    result = run_mcos("fleet", "check", str(path), env=env)
    assert "external (1): donna" in result.stdout
    assert "`mcos run` never starts them" in result.stdout
    assert "mcos tokens issue --agent NAME" in result.stdout
    shown = json.loads(run_mcos("fleet", "check", str(path), "--json", env=env).stdout)
    assert shown["ok"] is True
    assert shown["external"] == ["donna"]


def test_an_external_agent_is_stored_with_no_credential(database_url: str) -> None:
    from sqlalchemy import select

    from mcos.services.agents import sync_fleet
    from mcos.storage import tables
    from mcos.storage.database import Database
    from mcos.storage.writer import write_once

    fleet = fleet_of(with_donna('runtime = "external"\n'))
    db = Database(database_url)
    db.migrate()
    try:
        write_once(db, lambda ctx: sync_fleet(ctx, fleet))
        with db.reading() as conn:
            stored = dict(
                conn.execute(select(tables.agents.c.name, tables.agents.c.credential_env)).all()
            )
    finally:
        db.dispose()
    assert stored["donna"] == "", "no key variable is recorded for an agent run elsewhere"
    assert stored["jarvis"] == "MCOS_JARVIS_ANTHROPIC_KEY"


def test_an_external_agent_may_use_any_provider_the_price_table_knows() -> None:
    model = 'provider = "anthropic"\nmodel = "claude-sonnet-4-6"\ncontext_window = 200000\n'
    text = with_donna('runtime = "external"\n')
    assert text.count(model) >= 2, "template changed: donna's model lines"
    at = text.index('name = "donna"')
    google = text[:at] + text[at:].replace(
        model, 'provider = "google"\nmodel = "gemini-2.5-pro"\ncontext_window = 1000000\n', 1
    )
    donna = fleet_of(google).agent("donna")
    assert donna is not None and donna.provider == "google"
    # mcos run cannot call google: the same agent run by mcos is refused, with both fixes.
    fleet, problems = check_fleet_text(google.replace('runtime = "external"\n', DONNA_KEY, 1))
    assert fleet is None
    assert [p.key for p in problems] == ["agents[1].provider"]
    assert "'google' is not one `mcos run` can call" in problems[0].message
    assert 'runtime = "external"' in problems[0].fix
