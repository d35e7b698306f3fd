"""schemathesis over the whole API, against a real ``mcos serve`` on SQLite and on PostgreSQL:
whatever it makes of the OpenAPI document, valid or not, no answer is a 5xx.

Bounded (a few examples per operation) and deterministic (no seed, no example database), so it
runs in ``make test`` without flaking. The live stream never ends, so it is left out here; its
parameters are in ``test_inputs.py``. Agent routes get a real agent's name, so generated bodies
reach the services rather than a 404.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.fixtures.server import Server

CONFIG = """
[parameters]
"path.name" = "donna"
"""
PASSES = {"operator": 10, "agent": 5}
"""Examples per operation, per token: the operator's reaches everything, an agent's its own."""


def _schemathesis(server: Server, token: str, examples: int, folder: Path) -> str:
    config = folder / "schemathesis.toml"
    config.write_text(CONFIG)
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("st")),
            "--config-file",
            str(config),
            "run",
            f"{server.url}/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            str(examples),
            "--generation-deterministic",
            "--workers",
            "1",
            "--exclude-path",
            "/api/v1/stream",
            "--request-timeout",
            "30",
            "--no-color",
        ],
        cwd=folder,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8_000:]
    return output


def test_no_request_schemathesis_makes_gets_a_server_error(server: Server, tmp_path: Path) -> None:
    tokens = {"operator": server.operator_token, "agent": server.agent_token("donna")}
    for who, examples in PASSES.items():
        output = _schemathesis(server, tokens[who], examples, tmp_path)
        counted = re.search(r"(\d+) generated, (\d+) passed", output)
        assert counted is not None, output[-4_000:]
        generated, passed = int(counted[1]), int(counted[2])
        assert generated == passed > 1_000, f"{who}: {generated} generated, {passed} passed"
        assert "Server error" not in output
