"""The route index (``mcos.api.routing``) picks the route the whole list would pick, trying only
the routes that can match: every route of the real application, every method, and the answers
FastAPI gives when nothing matches (404, 405, slash redirects)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.testclient import TestClient

from mcos.api.app import create_app
from mcos.api.routing import RouteIndex, key_of, route_key
from mcos.cli.setup import init_fleet
from mcos.fleet.loader import template_text
from mcos.settings import Settings
from tests.fixtures.app import InProcessServer

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    folder: Path = tmp_path_factory.mktemp("routing")
    with pytest.MonkeyPatch.context() as patch:
        for name in [key for key in os.environ if key.startswith("MCOS_")]:
            patch.delenv(name)  # the fleet's own SQLite file, whatever the shell says
        init_fleet(folder, template_text())
        return create_app(Settings(fleet=folder / "fleet.toml"))


def _index(app: FastAPI) -> RouteIndex:
    index = app.state.route_index
    assert isinstance(index, RouteIndex)
    assert app.router.middleware_stack == index.__call__
    return index


def _chosen(routes: list[BaseRoute], method: str, path: str) -> tuple[Match, BaseRoute | None]:
    """What a router's matching picks from ``routes``: the first full match, else the first
    match by path alone (a 405), as Starlette's and FastAPI's routers pick."""
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    partial: BaseRoute | None = None
    for route in routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return match, route
        if match == Match.PARTIAL and partial is None:
            partial = route
    return (Match.PARTIAL, partial) if partial is not None else (Match.NONE, None)


def _sample_paths(route: BaseRoute) -> list[str]:
    if isinstance(route, Mount):
        return [route.path + "/app.js", route.path + "/a/b"]
    assert isinstance(route, Route)
    # 1 fits every convertor we use (str, int, path); a path parameter also takes segments.
    return [re.sub(r"\{[^}]*\}", "1", route.path), re.sub(r"\{[^}:]*:path\}", "a/b", route.path)]


def test_every_route_is_picked_from_its_group_as_from_the_whole_list(app: FastAPI) -> None:
    index = _index(app)
    routes = list(app.router.routes)
    assert len(routes) > 100  # the application's own routes, not one per included router
    checked = 0
    for route in routes:
        for path in _sample_paths(route):
            group = index.groups.get(key_of(path))
            if group is None:
                continue  # such a path goes through the whole router
            for method in METHODS:
                assert _chosen(group.routes, method, path) == _chosen(routes, method, path), (
                    method,
                    path,
                )
                checked += 1
    assert checked > 500


def test_a_group_holds_only_the_routes_that_can_match_its_paths(app: FastAPI) -> None:
    index = _index(app)
    agents = index.groups["/api/v1/agents"].routes
    paths = {getattr(route, "path", None) for route in agents}
    assert "/api/v1/agents/{name}/heartbeat" in paths
    assert "/api/v1/tasks" not in paths and "/api/v1/health" not in paths
    # A route whose literal start is shorter than a key is in every group, in its place.
    assert "/static" in paths and "/" not in paths
    assert len(agents) < len(app.router.routes) / 3


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/api/v1/agents/{name}/heartbeat", "/api/v1/agents"),
        ("/api/v1/agents", "/api/v1/agents"),
        ("/api/v1/tasks/{task_id}", "/api/v1/tasks"),
        ("/api/v1/{kind}", None),  # its third segment is any
        ("/api/v1/agents{suffix}", None),  # "/api/v1/agentsX" is another key
        ("/metrics", "/metrics"),
        ("/", "/"),
    ],
)
def test_the_key_of_a_route_is_the_key_of_every_path_it_matches(path: str, key: str | None) -> None:
    assert route_key(Route(path, lambda request: None)) == key


def test_a_mount_is_in_every_group_unless_its_path_names_the_key() -> None:
    app = lambda scope, receive, send: None  # noqa: E731
    assert route_key(Mount("/static", app=app)) is None
    assert route_key(Mount("/api/v1/files", app=app)) == "/api/v1/files"


def test_misses_answer_as_fastapi_answers_them(api: InProcessServer) -> None:
    with api.client() as operator:
        in_a_group = operator.get("/api/v1/agents/nobody/no-such-thing")
        in_no_group = operator.get("/api/v1/nothing-here/at-all")
        wrong_method = operator.delete("/api/v1/agents")
        slash = operator.get("/api/v1/agents/", follow_redirects=False)
        health = operator.get("/api/v1/health")
    for answer in (in_a_group, in_no_group):
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]["code"] == "not_found"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"
    assert slash.status_code == 307 and slash.headers["location"].endswith("/api/v1/agents")
    assert health.status_code == 200


def test_a_route_added_after_start_is_found(app: FastAPI) -> None:
    def answer(request: object) -> PlainTextResponse:
        return PlainTextResponse("late")

    app.router.routes.append(Route("/api/v1/agents-late/{x}", answer))
    try:
        with TestClient(app) as client:  # lifespan: the writer runs
            got = client.get("/api/v1/agents-late/1")
        assert got.status_code == 200 and got.text == "late"
        assert "/api/v1/agents-late" in _index(app).groups
    finally:
        app.router.routes.pop()
        _index(app).rebuild()
