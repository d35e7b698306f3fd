"""Fixtures for the service tests: the template fleet, loaded from a file of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcos.fleet.loader import load_fleet, template_text
from mcos.fleet.schema import Fleet


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    path = tmp_path / "fleet" / "fleet.toml"
    path.parent.mkdir()
    path.write_text(template_text(), encoding="utf-8")
    return load_fleet(path)
