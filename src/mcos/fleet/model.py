"""The base of every part of the fleet and registry files."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class FleetModel(BaseModel):
    """A table of ``fleet.toml`` (or ``registry.toml``): an unknown key is an error (a typo must
    not silently mean "default"), a loaded value never changes, and each field's docstring is
    its description — the fleet file reference (``mcos fleet reference``) is generated from
    them, so it cannot drift from the schema."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
