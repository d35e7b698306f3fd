"""``mcos.contract.paths`` names exactly the paths the API serves: none missing, none stale."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any, get_args

from mcos.api.app import create_app
from mcos.contract import paths
from mcos.fleet.loader import template_text
from mcos.settings import Settings

PARAMETER = re.compile(r"\{[^}]+\}")


def _served(tmp_path: Path) -> set[str]:
    (tmp_path / "fleet.toml").write_text(template_text())
    app = create_app(Settings(fleet=tmp_path / "fleet.toml"))
    schema: dict[str, Any] = app.openapi()
    app.state.store.db.dispose()
    return {PARAMETER.sub("{}", path) for path in schema["paths"]}


def _named() -> set[str]:
    """Every constant, and every function called with placeholders (each verb of a choice)."""
    found: set[str] = set()
    for name, value in vars(paths).items():
        fixed = isinstance(value, str) and value.startswith("/") and value != paths.API
        if name.isupper() and fixed:
            found.add(value)
        elif inspect.isfunction(value) and value.__module__ == paths.__name__:
            hints = inspect.get_annotations(value, eval_str=True)
            choices = [get_args(hints[p]) for p in inspect.signature(value).parameters]
            fixed = [c for c in choices if c and all(isinstance(x, str) for x in c)]
            if fixed:
                for verb in fixed[0]:
                    found.add(value(*["{}"] * (len(choices) - 1), verb))
            else:
                found.add(value(*["{}"] * len(choices)))
    return found


def test_the_paths_are_exactly_the_apis(tmp_path: Path) -> None:
    served, named = _served(tmp_path), _named()
    assert named - served == set(), "paths that the API does not serve"
    assert served - named == set(), "paths of the API that mcos.contract.paths does not name"


def test_a_path_is_built_from_its_parts() -> None:
    assert paths.move(42) == "/api/v1/tasks/42/move"
    assert paths.heartbeat("donna") == "/api/v1/agents/donna/heartbeat"
    assert paths.decide_incident(7, "dismiss") == "/api/v1/incidents/7/dismiss"
    assert paths.artifact_preview(3, 9) == "/api/v1/tasks/3/artifacts/9/preview"
