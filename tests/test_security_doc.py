"""docs/security.md states each promise next to the test that proves it: every test it names
exists, so the document cannot outlive its proofs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
DOC = ROOT / "docs" / "security.md"
REFERENCE = re.compile(r"`((?:tests/)?[\w/]*\.py)?(?:::(\w+))?`")


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    return {n.name for n in tree.body if isinstance(n, functions) and n.name.startswith("test_")}


def _file(named: str, last: Path | None) -> Path | None:
    """``tests/x/test_y.py`` as is; ``test_y.py`` the one file of that name under tests/."""
    if named.startswith("tests/"):
        return ROOT / named
    found = sorted((ROOT / "tests").rglob(Path(named).name))
    return found[0] if len(found) == 1 else None


def test_every_test_the_security_document_names_exists() -> None:
    last: Path | None = None
    named: list[tuple[Path | None, str | None, str]] = []
    for match in REFERENCE.finditer(DOC.read_text()):
        path, name = match.groups()
        if path is None and name is None:
            continue
        if path is not None and not Path(path).name.startswith("test_"):
            continue  # a source file or a benchmark, not a proof
        if path is not None:
            last = _file(path, last)
        named.append((last, name, match.group(0)))
    assert len(named) > 40, "the document names its proofs"
    missing = [
        shown
        for file, name, shown in named
        if file is None or not file.is_file() or (name is not None and name not in _tests_in(file))
    ]
    assert not missing, f"docs/security.md names tests that do not exist: {missing}"
