"""A two-company entity registry (the file a fleet keeps beside fleet.toml) and a .docx reader."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import docx
import pytest

from mcos.fleet.registry import REGISTRY_FILENAME, Registry, load_registry

REGISTRY_TOML = """
[[companies]]
key = "velocity-fibre"
legal_name = "Velocity Fibre (Pty) Ltd"
trading_as = "Velocity Fibre"
kind = "(Pty) Ltd"
registration_number = "2019/407215/07"
vat_number = "4620197384"
registered_address = "Unit 4, 18 Karee Street, Irene, Centurion, 0157"
domicilium_address = "2 Fibre Park, Lynnwood Road, Pretoria, 0081"
directors = ["alex-specter", "lindiwe-dlamini"]

[[companies.signatories]]
person = "alex-specter"

[[companies.signatories]]
person = "lindiwe-dlamini"
capacity = "Director, duly authorised"

[[companies]]
key = "mokoena-splicing"
legal_name = "Mokoena Splicing CC"
kind = "CC"
registration_number = "2009/045678/23"
registered_address = "7 Aloe Crescent, Rosslyn, Pretoria, 0200"

[[companies.signatories]]
person = "pieter-mokoena"
capacity = "Member"

[[people]]
key = "alex-specter"
full_name = "Alexander James Specter"
id_number = "8504125123086"
address = "31 Jacaranda Avenue, Irene, Centurion, 0157"

[[people]]
key = "lindiwe-dlamini"
full_name = "Lindiwe Precious Dlamini"
id_number = "9102176004088"

[[people]]
key = "pieter-mokoena"
full_name = "Pieter Mokoena"
"""

NUMBERED = re.compile(r"^(\d+(?:\.\d+)*)\.?\t(.*)$")


@dataclass(frozen=True)
class Line:
    text: str
    number: str
    """``1``, ``1.1``, ``1.1.1`` for a numbered clause, else empty."""
    body: str
    bold: tuple[str, ...]
    """The text of its bold runs."""


def read_back(content: bytes) -> list[Line]:
    """A .docx opened again, paragraph by paragraph, with clause numbers split off."""
    lines = []
    for p in docx.Document(io.BytesIO(content)).paragraphs:
        match = NUMBERED.match(p.text)
        number, body = (match.group(1), match.group(2)) if match else ("", p.text)
        lines.append(Line(p.text, number, body, tuple(r.text for r in p.runs if r.bold)))
    return lines


def write_registry(folder: Path, text: str = REGISTRY_TOML) -> Path:
    path = folder / REGISTRY_FILENAME
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return load_registry(write_registry(tmp_path))
