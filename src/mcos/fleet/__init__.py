"""The fleet file: schema, loader and the built-in template."""

from mcos.fleet.loader import FLEET_FILENAME, FleetFileError, FleetProblem, load_fleet
from mcos.fleet.schema import Agent, Fleet

__all__ = ["FLEET_FILENAME", "Agent", "Fleet", "FleetFileError", "FleetProblem", "load_fleet"]
