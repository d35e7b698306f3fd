"""The built wheel installed as a tool (``uv tool install``), into its own environment, does what
the README's "Install" section says, with every file it reads at run time in the installed copy."""

from __future__ import annotations

import subprocess

import pytest

from tests.packaging.installed import (
    SOURCE,
    Installed,
    build_wheel,
    minimal_fleet_end_to_end,
    tracked_package_files,
    uv,
    uv_env,
)


@pytest.fixture(scope="module")
def tool(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """``uv tool install`` of a freshly built wheel, with uv's tool and bin folders in tmp."""
    root = tmp_path_factory.mktemp("tool")
    wheel = build_wheel(root / "dist")
    env = uv_env(UV_TOOL_DIR=str(root / "tools"), UV_TOOL_BIN_DIR=str(root / "bin"))
    subprocess.run(
        [uv(), "tool", "install", "--quiet", "--compile-bytecode", "--python=python3", str(wheel)],
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    work = root / "work"
    work.mkdir()
    return Installed(root / "bin" / "mcos", root / "tools" / "mcos" / "bin" / "python", work)


@pytest.mark.timeout(600)
def test_the_installed_copy_carries_every_file_of_the_package(tool: Installed) -> None:
    where, installed = tool.package_files()
    assert not where.is_relative_to(SOURCE.parent), f"{where} is this checkout, not the install"
    missing = tracked_package_files() - installed
    assert not missing, f"the wheel leaves out files the code may read: {sorted(missing)}"
    assert "py.typed" in installed, "type checkers see mcos's annotations (PEP 561)"


@pytest.mark.timeout(600)
def test_version_is_the_wheels(tool: Installed) -> None:
    shown = tool.run("--version").stdout.strip()
    metadata = tool.python_says("import importlib.metadata as m; print(m.version('mcos'))")
    module = tool.python_says("import mcos; print(mcos.__version__)")
    assert shown == f"mcos, version {metadata}", shown
    assert module == metadata


@pytest.mark.timeout(600)
def test_a_minimal_fleet_runs_one_task_from_the_installed_tool(tool: Installed) -> None:
    result = minimal_fleet_end_to_end(tool)
    assert result.task["status"] == "review", result.task
    assert [r["key"] for r in result.provider_requests] == ["key-newcomer"], (
        "the one agent called the model once, with its own key"
    )
    assert "HTTP Request" not in result.runner_log, "no log line per HTTP call"
    keys = {t["key"] for t in result.legal_templates}
    assert {"independent-contractor-agreement", "notice"} <= keys, "the installed legal templates"
