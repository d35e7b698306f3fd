"""The fleet file reference is generated from the schema: nothing undocumented, nothing stale,
nothing the loader accepts left out."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from mcos.cli import cli
from mcos.fleet.loader import template_text
from mcos.fleet.reference import reference, undocumented

DOC = Path(__file__).parents[2] / "docs" / "fleet-reference.md"


def test_every_key_of_the_fleet_and_registry_files_has_a_description() -> None:
    assert undocumented() == []


def test_docs_fleet_reference_is_what_the_schema_generates() -> None:
    # Stale: run `mcos fleet reference --write docs/fleet-reference.md` and commit it.
    assert DOC.read_text(encoding="utf-8") == reference()


def test_mcos_fleet_reference_prints_it_and_writes_it(tmp_path: Path) -> None:
    printed = CliRunner().invoke(cli, ["fleet", "reference"])
    assert printed.exit_code == 0, printed.output
    assert printed.output == reference()
    target = tmp_path / "ref.md"
    written = CliRunner().invoke(cli, ["fleet", "reference", "--write", str(target)])
    assert written.exit_code == 0, written.output
    assert target.read_text(encoding="utf-8") == reference()


def _keys(table: dict[str, Any], path: str) -> set[str]:
    """Every table path and key of a parsed TOML document (arrays of tables merged)."""
    found: set[str] = set()
    for key, value in table.items():
        where = f"{path}.{key}" if path else key
        tables = value if isinstance(value, list) else [value]
        if tables and all(isinstance(t, dict) for t in tables):
            for t in tables:
                found |= _keys(t, where)
        else:
            found.add(where)
    return found


def test_every_key_the_seed_fleet_uses_is_in_the_reference() -> None:
    text = reference()
    documented = set(re.findall(r"^\| `([^`]+)` \|", text, flags=re.M))
    sections = set(re.findall(r"`\[\[?([a-z_.]+?)(?:\.NAME)?\]\]?`", text))
    for key in _keys(tomllib.loads(template_text()), ""):
        *table, name = key.split(".")
        # A map's entry (escalation.P0, prices.<model>, exchange_rates.ZAR) is named by its key.
        assert name in documented or ".".join(table) in sections, key
