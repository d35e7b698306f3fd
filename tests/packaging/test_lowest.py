"""mcos on the lowest versions its dependencies allow (``uv pip install --resolution
lowest-direct``): the lower bounds in pyproject.toml are true, not hopes.

`make test-lowest` builds that environment in .venv-lowest and points MCOS_TEST_LOWEST_VENV at
it; without it the test builds its own in tmp (uv's cache makes that a matter of seconds)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.packaging.installed import (
    ROOT,
    Installed,
    build_wheel,
    minimal_fleet_end_to_end,
    uv,
    uv_env,
)


def lowest_venv(root: Path) -> Path:
    """A venv with the wheel and the lowest versions of its direct dependencies.

    The dependencies are given as requirements (``-r pyproject.toml``) as well: for a wheel
    alone, ``lowest-direct`` lowers only the wheel, and its dependencies resolve to the newest.
    """
    venv = root / "venv"
    subprocess.run(
        [uv(), "venv", "--quiet", "--python", "python3", str(venv)],
        env=uv_env(),
        check=True,
        capture_output=True,
        timeout=120,
    )
    wheel = build_wheel(root / "dist")
    subprocess.run(
        [
            *(uv(), "pip", "install", "--quiet", "--compile-bytecode"),
            *("--resolution", "lowest-direct", "--requirements", str(ROOT / "pyproject.toml")),
            str(wheel),
        ],
        env=uv_env(VIRTUAL_ENV=str(venv)),
        check=True,
        capture_output=True,
        timeout=600,
    )
    return venv


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("MCOS_TEST_LOWEST_VENV")
    return Path(given).resolve() if given else lowest_venv(tmp_path_factory.mktemp("lowest"))


@pytest.mark.timeout(600)
@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_minimal_fleet_runs_on_the_lowest_dependency_versions(
    venv: Path, provider: str, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    installed = Installed(venv / "bin" / "mcos", venv / "bin" / "python", work)
    listed = subprocess.run(
        [uv(), "pip", "list", "--format", "freeze"],
        env=uv_env(VIRTUAL_ENV=str(venv)),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = minimal_fleet_end_to_end(installed, provider)
    assert result.task["status"] == "review", (result.task, listed)
    assert [r["key"] for r in result.provider_requests] == ["key-newcomer"], listed
    assert "HTTP Request" not in result.runner_log, "no log line per HTTP call"
