"""``mcos import openclaw`` on sample configs written from OpenClaw's configuration reference:
the fleet it writes passes ``mcos fleet check``, and the report names what it left, with lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcos.fleet.loader import load_fleet
from mcos.openclaw.importer import import_openclaw
from mcos.openclaw.reader import OpenClawConfigError, parse_config, read_config
from tests.fixtures.server import mcos_env, run_mcos

SAMPLES = Path(__file__).parent.parent / "fixtures" / "openclaw"
SEED = SAMPLES / "seed-fleet.json5"


def line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, start=1) if needle in line)


@pytest.mark.parametrize(
    "sample", ["single-agent.json5", "seed-fleet.json5", "two-agents-list.json5"]
)
def test_the_imported_fleet_passes_fleet_check(sample: str, tmp_path: Path) -> None:
    env = mcos_env(tmp_path)
    out = tmp_path / "fleet.toml"
    run_mcos("import", "openclaw", str(SAMPLES / sample), "--out", str(out), env=env)
    checked = json.loads(run_mcos("fleet", "check", str(out), "--json", env=env).stdout)
    assert checked["ok"] is True
    fleet = load_fleet(out)
    assert checked["external"] == [a.name for a in fleet.agents], "every agent runs in OpenClaw"
    assert all(a.credential is None for a in fleet.agents), "no key is named for OpenClaw's"


def test_the_seed_fleet_keeps_its_agents_models_and_tool_policy(tmp_path: Path) -> None:
    out = tmp_path / "fleet.toml"
    run_mcos("import", "openclaw", str(SEED), "--out", str(out), env=mcos_env(tmp_path))
    fleet = load_fleet(out)
    by_name = {a.name: a for a in fleet.agents}
    assert list(by_name) == [
        "jarvis", "donna", "apex", "vega", "elon", "flow", "sentinel", "pulse-revenue"
    ]  # fmt: skip
    flow = by_name["flow"]
    assert flow.title == "Product Engineer" and flow.display_name == "Flow"
    assert "exec" not in flow.capabilities, "flow's exec was denied in OpenClaw: not granted here"
    assert set(flow.capabilities) == {"read", "plan", "write", "network"}
    assert "exec" in by_name["elon"].capabilities
    assert set(by_name["apex"].capabilities) == {"read", "write"}
    assert set(by_name["sentinel"].capabilities) == {"read", "plan", "network"}
    assert "exec" not in by_name["jarvis"].capabilities, "group:runtime denied"
    assert (by_name["vega"].provider, by_name["vega"].model) == ("openai", "gpt-5.4")
    pulse = by_name["pulse-revenue"]
    assert (pulse.provider, pulse.model) == ("openrouter", "anthropic/claude-sonnet-4")
    assert set(pulse.capabilities) == {"plan", "network"}
    assert flow.context_window == 200_000 and flow.context.reserve_floor == 20_000
    assert fleet.liveness_for(flow).heartbeat_seconds == 300
    text = out.read_text()
    assert "# OpenClaw workspace: ~/.openclaw/workspaces/donna" in text
    assert "TELEGRAM" not in text and "18789" not in text, "nothing of channels or gateway"


def test_the_report_names_what_was_left_and_where(tmp_path: Path) -> None:
    result = run_mcos(
        "import", "openclaw", str(SEED), "--out", str(tmp_path / "f.toml"), "--json",
        env=mcos_env(tmp_path),
    )  # fmt: skip
    report = json.loads(result.stdout)
    unmapped = {n["where"]: n for n in report["unmapped"]}
    expected_lines = {
        "agents.entries.donna.tools.alsoAllow[3]": 'alsoAllow: ["read", "write", "web_fetch"',
        "agents.entries.elon.tools.elevated": "elevated: { enabled: true }",
        "agents.entries.Pulse_Revenue.model.fallbacks": 'fallbacks: ["openai/gpt-5.4-mini"]',
        "agents.entries.flow.sandbox": 'sandbox: { mode: "all"',
        "agents.defaults.sandbox": "sandbox: {",
        "agents.entries.donna.skills": "skills:",
        "agents.entries.jarvis.identity.emoji": 'emoji: "',
        "bindings": "bindings: [",
        "channels": "channels: {",
        "tools.exec": "exec: { security",
        "mcp.servers.outlook": "outlook: { command",
        "gateway": "gateway: { port",
    }
    for where, needle in expected_lines.items():
        assert where in unmapped, f"{where} is reported as not mapped"
        assert unmapped[where]["line"] == line_of(SEED, needle), f"{where}: its line"
    assert unmapped["agents.entries.donna.tools.alsoAllow[3]"]["what"] == "outlook__send_mail"
    assert "one model" in unmapped["agents.entries.Pulse_Revenue.model.fallbacks"]["why"]
    assumed = {n["where"]: n for n in report["assumed"]}
    assert "pulse-revenue" in assumed["agents.entries.Pulse_Revenue.id"]["why"]
    assert "email.send" in assumed["(capabilities)"]["what"], "never granted by the import"
    assert not any(w.startswith("agents.entries.flow.tools") for w in unmapped), "all mapped"
    assert unmapped["channels"]["what"] == "{whatsapp, telegram}", "an object by its keys only"


def test_no_secret_in_the_config_reaches_the_report_or_the_fleet(tmp_path: Path) -> None:
    config = tmp_path / "openclaw.json"
    config.write_text(
        """{
          agents: { defaults: { model: "anthropic/claude-sonnet-4-6", contextTokens: 200000,
                                sandbox: { docker: { env: { DB_PASSWORD: "hunter2-db" } } } } },
          channels: { telegram: { botToken: "123456:AAF-telegram-secret" } },
          env: { OPENAI_API_KEY: "sk-live-openai-secret" },
          models: { providers: { custom: { apiKey: "sk-custom-secret" } } },
        }""",
        encoding="utf-8",
    )
    out = tmp_path / "fleet.toml"
    env = mcos_env(tmp_path)
    shown = run_mcos("import", "openclaw", str(config), "--out", str(out), env=env).stdout
    shown += run_mcos(
        "import", "openclaw", str(config), "--out", str(out), "--force", "--json", env=env
    ).stdout
    for secret in ("hunter2-db", "telegram-secret", "openai-secret", "custom-secret"):
        assert secret not in shown, f"{secret} echoed in the report"
        assert secret not in out.read_text(), f"{secret} written to the fleet file"
    assert "env = {OPENAI_API_KEY}" in shown, "the key is named, its value is not"


def test_the_text_report_shows_file_and_line(tmp_path: Path) -> None:
    out = tmp_path / "fleet.toml"
    result = run_mcos("import", "openclaw", str(SEED), "--out", str(out), env=mcos_env(tmp_path))
    assert f"Wrote {out}: 8 agents" in result.stdout
    line = line_of(SEED, "outlook__send_mail")
    assert f"{SEED}:{line}: agents.entries.donna.tools.alsoAllow[3] = outlook__send_mail" in (
        result.stdout
    )
    assert "Not mapped (" in result.stdout and "Assumed (" in result.stdout


def test_bad_json5_is_refused_with_its_line(tmp_path: Path) -> None:
    broken = tmp_path / "openclaw.json"
    text = SEED.read_text(encoding="utf-8").replace('name: "Flow",', 'name: "Flow"', 1)
    broken.write_text(text, encoding="utf-8")
    result = run_mcos(
        "import", "openclaw", str(broken), "--out", str(tmp_path / "fleet.toml"),
        env=mcos_env(tmp_path), check=False,
    )  # fmt: skip
    assert result.returncode == 1
    line = line_of(broken, 'identity: { theme: "Product Engineer" }')
    assert f"{broken}:{line}: not valid JSON5" in result.stderr
    assert not (tmp_path / "fleet.toml").exists(), "nothing is written from a broken config"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "the top level is a list"),
        ("{agents: {defaults: {}}}", "no model"),
        ('{agents: {defaults: {model: "claude"}}}', "no model in the form"),
    ],
)
def test_configs_that_cannot_be_imported_say_why(text: str, message: str) -> None:
    with pytest.raises((OpenClawConfigError, ValueError), match=message):
        import_openclaw(parse_config(text), text)


def test_a_missing_file_and_an_existing_out_are_refused(tmp_path: Path) -> None:
    env = mcos_env(tmp_path)
    missing = run_mcos("import", "openclaw", str(tmp_path / "nope.json"), env=env, check=False)
    assert missing.returncode == 1 and "no such file" in missing.stderr
    out = tmp_path / "fleet.toml"
    out.write_text("# mine\n")
    taken = run_mcos("import", "openclaw", str(SEED), "--out", str(out), env=env, check=False)
    assert taken.returncode == 1 and "--force" in taken.stderr
    assert out.read_text() == "# mine\n", "an existing fleet file is never overwritten unasked"


def test_wildcards_and_groups_expand_as_openclaw_does() -> None:
    text = """{
      agents: {
        defaults: { model: "anthropic/claude-sonnet-4-6", contextTokens: 100000 },
        list: [
          { id: "a",
            tools: { profile: "full", deny: ["web_*", "x_search", "browser", "group:fs"] } },
          { id: "b", tools: { allow: ["GROUP:RUNTIME", "Read"] } },
        ],
      },
    }"""
    result = import_openclaw(parse_config(text), text)
    caps = {a.name: set(a.capabilities) for a in result.fleet.agents}
    assert caps == {"a": {"plan", "exec", "read"}, "b": {"exec", "read"}}
    # "a" still reads through memory_search/memory_get: group:fs is read, write, edit,
    # apply_patch only, which is why "read" stays.
    assert not result.unmapped


def test_read_config_refuses_what_is_not_a_config(tmp_path: Path) -> None:
    with pytest.raises(OpenClawConfigError, match="a folder"):
        read_config(tmp_path)
    binary = tmp_path / "x.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(OpenClawConfigError, match="not UTF-8"):
        read_config(binary)
