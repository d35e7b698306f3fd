"""The fleet file: schema, loader and the built-in template.

Only ``FLEET_FILENAME`` is defined here; the rest is imported on first use, so a command that
needs no more than the file's name (the CLI finding its fleet) does not build the schema's
pydantic models.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

FLEET_FILENAME = "fleet.toml"

if TYPE_CHECKING:
    from mcos.fleet.loader import FleetFileError, FleetProblem, load_fleet
    from mcos.fleet.schema import Agent, Fleet

_LAZY = {
    "FleetFileError": "loader",
    "FleetProblem": "loader",
    "load_fleet": "loader",
    "Agent": "schema",
    "Fleet": "schema",
}

__all__ = ["FLEET_FILENAME", "Agent", "Fleet", "FleetFileError", "FleetProblem", "load_fleet"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"mcos.fleet.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
