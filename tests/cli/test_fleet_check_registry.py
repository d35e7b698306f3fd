"""``mcos fleet check`` validates the entity registry beside the fleet file too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcos.fleet.loader import template_text
from mcos.fleet.registry import registry_template_text
from tests.fixtures.server import mcos_env, run_mcos


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return mcos_env(tmp_path)


def fleet_with_registry(folder: Path, registry: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "fleet.toml"
    path.write_text(template_text(), encoding="utf-8")
    (folder / "registry.toml").write_text(registry, encoding="utf-8")
    return path


def test_a_good_registry_is_counted(tmp_path: Path, env: dict[str, str]) -> None:
    path = fleet_with_registry(tmp_path, registry_template_text())
    result = run_mcos("fleet", "check", str(path), env=env)
    assert result.stdout.splitlines()[:2] == [
        f"{path}: ok — 23 agents on 2 machines, 6 channels",
        f"{tmp_path / 'registry.toml'}: ok — 3 companies, 3 people",
    ]
    as_json = json.loads(run_mcos("fleet", "check", str(path), "--json", env=env).stdout)
    assert as_json["registry"] == {
        "file": str(tmp_path / "registry.toml"),
        "companies": 3,
        "people": 3,
    }


def test_a_bad_registry_fails_the_check_with_file_line_key_and_fix(
    tmp_path: Path, env: dict[str, str]
) -> None:
    text = registry_template_text()
    for old, new in [
        ("9102176004088", "9102176004080"),  # a wrong check digit
    ]:
        assert text.count(old) == 1
        text = text.replace(old, new)
    path = fleet_with_registry(tmp_path, text)
    registry = tmp_path / "registry.toml"
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "9102176004080" in t)
    result = run_mcos("fleet", "check", str(path), env=env, check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"1 problem(s) in {registry}\n")
    assert (
        f"{registry}:{line}: people[1].id_number: person 'lindiwe-dlamini': '9102176004080' "
        "fails the ID number's check digit (Luhn), so a digit is wrong or two are swapped\n"
        "    fix: copy it again from the ID document\n"
    ) in result.stderr

    as_json = run_mcos("fleet", "check", str(path), "--json", env=env, check=False)
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["ok"] is False and report["file"] == str(registry)
    assert report["problems"] == [
        {
            "file": str(registry),
            "key": "people[1].id_number",
            "line": line,
            "message": "person 'lindiwe-dlamini': '9102176004080' fails the ID number's check "
            "digit (Luhn), so a digit is wrong or two are swapped",
            "fix": "copy it again from the ID document",
        }
    ]


def test_a_bad_fleet_and_a_bad_registry_are_both_reported(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = fleet_with_registry(
        tmp_path,
        registry_template_text().replace('directors = ["alex-specter"]', "directors = [1]"),
    )
    path.write_text(template_text().replace("[liveness]", "[liveness", 1), encoding="utf-8")
    result = run_mcos("fleet", "check", str(path), env=env, check=False)
    assert result.returncode == 1
    assert f"1 problem(s) in {path}\n" in result.stderr
    assert f"1 problem(s) in {tmp_path / 'registry.toml'}\n" in result.stderr
    assert "companies[0].directors[0]: company 'specter-holdings'" in result.stderr
