"""Fixtures for the service tests: the template fleet, loaded from a file of its own, and a
database that knows its agents."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mcos.fleet.loader import load_fleet, template_text
from mcos.fleet.schema import Fleet
from mcos.services.agents import sync_fleet
from mcos.storage.database import Database
from mcos.storage.writer import write_once


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    path = tmp_path / "fleet" / "fleet.toml"
    path.parent.mkdir()
    path.write_text(template_text(), encoding="utf-8")
    return load_fleet(path)


@pytest.fixture
def db(database_url: str, fleet: Fleet) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate()
    write_once(database, lambda ctx: sync_fleet(ctx, fleet))
    yield database
    database.dispose()
