"""``mcos init`` and ``mcos fleet check``, run as a user runs them: the real CLI in a process."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mcos.fleet.loader import template_text
from mcos.fleet.permissions import tighten
from tests.fixtures.server import free_port, mcos_env, run_mcos


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No MCOS_* variables from outside, and a config folder of this test's own."""
    return mcos_env(tmp_path)


def broken_copy(folder: Path) -> Path:
    """The template with elon on a misspelt machine and donna on jarvis's credential."""
    text = template_text()
    for old, new in [
        ('title = "Infrastructure (CTO)"\nmachine = "velo"', 'title = "CTO"\nmachine = "vello"'),
        ('credential = "MCOS_DONNA_ANTHROPIC_KEY"', 'credential = "MCOS_JARVIS_ANTHROPIC_KEY"'),
    ]:
        assert text.count(old) == 1
        text = text.replace(old, new)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "fleet.toml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    lines = path.read_text().splitlines()
    return [n for n, line in enumerate(lines, start=1) if needle in line][occurrence - 1]


def test_init_writes_the_fleet_and_a_private_operator_token(
    tmp_path: Path, env: dict[str, str]
) -> None:
    folder = tmp_path / "hq"
    result = run_mcos("init", str(folder), env=env)
    fleet_file = folder / "fleet.toml"
    assert fleet_file.read_text(encoding="utf-8") == template_text()
    assert f"Wrote {fleet_file} (23 agents on 2 machines)." in result.stdout
    token_file = folder / ".mcos" / "operator.token"
    token = token_file.read_text().strip()
    assert len(token) >= 20
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert f"\n  {token}\n" in result.stdout
    # No MCOS_DATABASE_URL: the SQLite file beside the fleet file.
    assert (folder / "mcos.db").is_file()
    # The folder becomes the CLI's current fleet, so later commands find it from anywhere.
    remembered = tmp_path / "config" / "mcos" / "current-fleet"
    assert remembered.read_text().strip() == str(folder.resolve())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    checked = run_mcos("fleet", "check", env=env, cwd=elsewhere)
    assert checked.stdout.startswith(f"{fleet_file}: ok")

    again = run_mcos("init", str(folder), env=env, check=False)
    assert again.returncode != 0
    assert (
        again.stderr
        == f"error: {fleet_file} already exists; edit it, or choose another directory\n"
    )
    assert again.stdout == ""
    assert fleet_file.read_text(encoding="utf-8") == template_text()
    assert token_file.read_text().strip() == token


def test_init_uses_the_database_named_by_the_environment(
    tmp_path: Path, env: dict[str, str]
) -> None:
    database = tmp_path / "elsewhere.db"
    folder = tmp_path / "hq"
    env = env | {"MCOS_DATABASE_URL": f"sqlite+pysqlite:///{database}"}
    result = run_mcos("init", str(folder), env=env)
    assert "23 agents on 2 machines" in result.stdout
    assert database.is_file()
    assert not (folder / "mcos.db").exists()


def test_fleet_check_says_ok_for_the_template(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(template_text(), encoding="utf-8")
    result = run_mcos("fleet", "check", str(path), env=env)
    assert result.stdout == f"{path}: ok — 23 agents on 2 machines, 6 channels\n"
    as_json = json.loads(run_mcos("fleet", "check", str(path), "--json", env=env).stdout)
    assert as_json == {
        "ok": True,
        "file": str(path),
        "agents": 23,
        "machines": 2,
        "warnings": [],
        "external": [],  # every agent runs under `mcos run`
        "registry": None,  # no registry.toml beside it
    }


def test_fleet_check_warns_of_exec_on_a_machine_without_a_sandbox_and_passes(
    tmp_path: Path, env: dict[str, str]
) -> None:
    # Elon, who has exec, moved to the Mac Mini, which has no sandbox.
    text = template_text()
    velo = 'title = "Infrastructure (CTO)"\nmachine = "velo"'
    assert text.count(velo) == 1
    path = tmp_path / "fleet.toml"
    path.write_text(text.replace(velo, velo.replace("velo", "mac-mini")), encoding="utf-8")
    result = run_mcos("fleet", "check", str(path), env=env)
    lines = result.stdout.splitlines()
    assert lines[0] == f"{path}: ok — 23 agents on 2 machines, 6 channels"
    assert len(lines) == 2 and lines[1].startswith("  warning: elon: Elon has exec on machine")
    assert "run unconfined" in lines[1]
    as_json = json.loads(run_mcos("fleet", "check", str(path), "--json", env=env).stdout)
    assert as_json["ok"] is True
    (warning,) = as_json["warnings"]
    assert warning["agent"] == "elon" and "no sandbox" in warning["message"]


def test_fleet_check_explains_each_problem_with_file_line_key_and_fix(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = broken_copy(tmp_path / "broken")
    result = run_mcos("fleet", "check", str(path), env=env, check=False)
    assert result.returncode == 1
    machine_line = line_of(path, 'machine = "vello"')
    credential_line = line_of(path, 'credential = "MCOS_JARVIS_ANTHROPIC_KEY"', 2)
    assert result.stderr.startswith(f"2 problem(s) in {path}\n")
    assert (
        f"{path}:{machine_line}: agents[4].machine: agent 'elon' names unknown machine 'vello'\n"
        "    fix: did you mean 'velo'? otherwise add a [[machines]] entry for it\n"
    ) in result.stderr
    assert (
        f"{path}:{credential_line}: agents[1].credential: agent 'donna' names credential "
        "MCOS_JARVIS_ANTHROPIC_KEY which agent 'jarvis' already uses\n"
        "    fix: give every agent its own credential variable"
    ) in result.stderr

    as_json = run_mcos("fleet", "check", str(path), "--json", env=env, check=False)
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["ok"] is False
    assert report["file"] == str(path)
    assert [(p["key"], p["line"]) for p in report["problems"]] == [
        ("agents[1].credential", credential_line),
        ("agents[4].machine", machine_line),
    ]
    machine = report["problems"][1]
    assert machine["message"] == "agent 'elon' names unknown machine 'vello'"
    assert machine["fix"].startswith("did you mean 'velo'?")


def test_fleet_check_reports_bad_toml_with_its_line(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(template_text().replace("[liveness]", "[liveness", 1), encoding="utf-8")
    result = run_mcos("fleet", "check", str(path), env=env, check=False)
    assert result.returncode == 1
    assert f"{path}:{line_of(path, '[liveness')}: (syntax): not valid TOML" in result.stderr
    assert "fix: fix the TOML syntax" in result.stderr


def test_fleet_check_without_a_fleet_says_what_to_do(tmp_path: Path, env: dict[str, str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    if any((folder / "fleet.toml").is_file() for folder in empty.parents):
        pytest.skip("a fleet.toml above the temporary folder would be found")
    result = run_mcos("fleet", "check", env=env, cwd=empty, check=False)
    assert result.returncode == 1
    assert result.stderr == "error: no fleet.toml here or above; give its path\n"


def test_serve_prints_where_it_listens_and_the_token_only_when_asked(tmp_path: Path) -> None:
    env = mcos_env(tmp_path)
    run_mcos("init", str(tmp_path / "fleet"), env=env)
    token = (tmp_path / "fleet" / ".mcos" / "operator.token").read_text().strip()
    for flags, shows_token in (([], False), (["--show-token"], True)):
        port = str(free_port())
        with subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mcos",
                "serve",
                "--fleet",
                str(tmp_path / "fleet"),
                "--port",
                port,
                *flags,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as process:
            assert process.stdout is not None
            lines = []
            for line in process.stdout:
                lines.append(line)
                if "Uvicorn running" in line or "Application startup complete" in line:
                    break
            process.terminate()
            process.wait(10)
        printed = "".join(lines)
        assert f"http://127.0.0.1:{port}/api/v1" in printed, printed
        assert (token in printed) is shows_token, printed


def test_fleet_state_is_its_owners_alone(tmp_path: Path, env: dict[str, str]) -> None:
    folder = tmp_path / "hq"
    run_mcos("init", str(folder), env=env)

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(folder / ".mcos") == 0o700
    assert mode(folder / "mcos.db") == 0o600
    # State an older version (or another tool) left readable is made private at start.
    (folder / "workspaces" / "donna").mkdir(parents=True)
    os.chmod(folder / "workspaces", 0o755)
    os.chmod(folder / "workspaces" / "donna", 0o755)
    os.chmod(folder / ".mcos", 0o755)
    os.chmod(folder / ".mcos" / "operator.token", 0o644)
    os.chmod(folder / "mcos.db", 0o644)
    changed = tighten(folder)
    assert set(changed) == {
        folder / "mcos.db",
        folder / ".mcos",
        folder / ".mcos" / "operator.token",
        folder / "workspaces",
        folder / "workspaces" / "donna",
    }
    assert {p: mode(p) for p in changed} == {p: 0o600 if p.is_file() else 0o700 for p in changed}
    assert tighten(folder) == [], "nothing left to change"
