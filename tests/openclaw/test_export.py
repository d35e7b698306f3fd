"""``mcos export openclaw``: each agent's tool policy and its Mission Control MCP entry, with
the token read from the environment, and a round trip back through the import."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcos.fleet.loader import load_fleet
from mcos.openclaw.importer import import_openclaw
from mcos.openclaw.reader import parse_config
from tests.fixtures.server import mcos_env, run_mcos

SAMPLES = Path(__file__).parent.parent / "fixtures" / "openclaw"


@pytest.fixture
def imported(tmp_path: Path) -> Path:
    out = tmp_path / "fleet.toml"
    run_mcos(
        "import", "openclaw", str(SAMPLES / "seed-fleet.json5"), "--out", str(out),
        env=mcos_env(tmp_path),
    )  # fmt: skip
    return out


@pytest.mark.parametrize("shape", ["entries", "list"])
def test_export_then_import_keeps_each_agents_policy(
    imported: Path, tmp_path: Path, shape: str
) -> None:
    exported = run_mcos(
        "export", "openclaw", "--fleet", str(imported), "--shape", shape,
        env=mcos_env(tmp_path),
    ).stdout  # fmt: skip
    config = parse_config(exported)
    again = import_openclaw(config, exported).fleet
    before = load_fleet(imported)
    assert [a.name for a in again.agents] == [a.name for a in before.agents]
    for old, new in zip(before.agents, again.agents, strict=True):
        assert set(new.capabilities) == set(old.capabilities), f"{old.name}'s capabilities"
        assert (new.provider, new.model) == (old.provider, old.model)
        assert new.context_window == old.context_window
        assert new.label == old.label
    roster = config["agents"]["entries"] if shape == "entries" else config["agents"]["list"]
    assert len(roster) == 8


def test_the_mcp_entry_points_each_agent_at_mcp_with_its_own_token_variable(
    imported: Path, tmp_path: Path
) -> None:
    exported = run_mcos(
        "export", "openclaw", "--fleet", str(imported), "--url", "https://mc.example:8750/",
        env=mcos_env(tmp_path),
    ).stdout  # fmt: skip
    config = parse_config(exported)
    servers = config["mcp"]["servers"]
    assert servers["mcos-flow"] == {
        "url": "https://mc.example:8750/mcp",
        "transport": "streamable-http",
        "headers": {"Authorization": "Bearer ${MCOS_TOKEN_FLOW}"},
    }
    assert servers["mcos-pulse-revenue"]["headers"]["Authorization"] == (
        "Bearer ${MCOS_TOKEN_PULSE_REVENUE}"
    )
    flow = config["agents"]["entries"]["flow"]["tools"]
    assert "mcos-flow__*" in flow["allow"]
    assert "mcos-jarvis__*" in flow["deny"], "an agent cannot use another's Mission Control"
    assert {"exec", "process", "code_execution", "bash"} <= set(flow["deny"])
    assert "exec" in config["agents"]["entries"]["elon"]["tools"]["allow"]
    assert "mcos_" not in exported, "no token is ever written"
    assert config["agents"]["ownership"] == "explicit"


def test_the_stdio_entry_starts_mcos_mcp_for_one_agent(imported: Path, tmp_path: Path) -> None:
    out = tmp_path / "openclaw-mcos.json5"
    run_mcos(
        "export", "openclaw", "--fleet", str(imported), "--agent", "apex", "--transport",
        "stdio", "--url", "http://10.0.0.2:8750", "--out", str(out), env=mcos_env(tmp_path),
    )  # fmt: skip
    config = parse_config(out.read_text())
    assert config["mcp"]["servers"] == {
        "mcos-apex": {
            "command": "mcos",
            "args": ["mcp", "--agent", "apex", "--url", "http://10.0.0.2:8750"],
            "env": {"MCOS_TOKEN": "${MCOS_TOKEN_APEX}"},
        }
    }
    assert list(config["agents"]["entries"]) == ["apex"]
    assert "ownership" not in config["agents"], "one agent needs no explicit ownership"
    assert out.stat().st_mode & 0o077 == 0


def test_export_refuses_unknown_agents_and_fleets_without_external_ones(
    imported: Path, tmp_path: Path
) -> None:
    env = mcos_env(tmp_path)
    unknown = run_mcos(
        "export", "openclaw", "--fleet", str(imported), "--agent", "nobody", env=env, check=False
    )
    assert unknown.returncode == 1 and "no agent named 'nobody'" in unknown.stderr
    run_mcos("init", str(tmp_path / "native"), env=env)
    native = run_mcos(
        "export", "openclaw", "--fleet", str(tmp_path / "native"), env=env, check=False
    )
    assert native.returncode == 1 and 'runtime = "external"' in native.stderr
    bad_url = run_mcos(
        "export", "openclaw", "--fleet", str(imported), "--url", "ftp://x", env=env, check=False
    )
    assert bad_url.returncode == 1 and "--url" in bad_url.stderr
