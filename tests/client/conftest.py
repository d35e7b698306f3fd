"""One real control plane (``mcos serve`` on SQLite) per test module: the client is the same
whatever the back end, and each test makes its own tasks and ids, so they can share it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.server import Server, running_server


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("plane")
    with running_server(folder, f"sqlite+pysqlite:///{folder / 'mcos.db'}") as srv:
        yield srv


@pytest.fixture(scope="module")
def tokens(plane: Server) -> dict[str, str]:
    """An agent token for each agent the tests act as (issued once per module)."""
    return {name: plane.agent_token(name) for name in ("flow", "jarvis", "vega", "sentinel")}
