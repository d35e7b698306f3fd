"""The layers import downwards only: what a layer may not reach, it cannot come to depend on."""

from __future__ import annotations

import ast
from pathlib import Path

import mcos

SOURCE = Path(mcos.__file__).parent

FORBIDDEN = {
    # The control plane serves any fleet: the demo and the CLI are clients of it.
    "services": ("mcos.demo", "mcos.cli", "mcos.api", "mcos.dashboard"),
    "api": ("mcos.demo", "mcos.cli"),
    # Domain types and state machines are pure: no storage, HTTP or services.
    "domain": ("mcos.storage", "mcos.services", "mcos.api", "mcos.demo", "mcos.cli"),
}


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_each_layer_imports_only_what_is_below_it() -> None:
    crossings = [
        f"{path.relative_to(SOURCE)}:{line} imports {module}"
        for layer, forbidden in FORBIDDEN.items()
        for path in sorted((SOURCE / layer).rglob("*.py"))
        for line, module in _imports(path)
        if module.startswith(forbidden)
    ]
    assert crossings == [], "a layer reaches upwards or into the demo"


def test_the_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "snapshot.py"
    module.write_text("def scenes():\n    from mcos.demo import director\n    return director\n")
    assert _imports(module) == [(2, "mcos.demo")]


def test_routes_write_by_naming_a_service() -> None:
    """A route hands the writer a service function (``store.write``), not a closure of its own
    that could mix the route's logic into the unit."""
    closures = [
        f"{path.relative_to(SOURCE)}:{node.lineno}"
        for path in sorted((SOURCE / "api" / "routes").glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute)
        and node.attr in {"submit", "submit_bulk"}
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "writer"
    ]
    assert closures == [], "routes write through store.write(service, ...)"
