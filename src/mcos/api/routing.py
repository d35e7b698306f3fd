"""Find a request's route among the few that can match it, not by trying all of them.

FastAPI tries an application's routes one by one, each through several layers of its included
routers' bookkeeping; with about 100 routes, a request to one of the last (``/api/v1/health``)
spent more on finding its route than on answering (``bench/routing.py``: 122 µs in-process,
37 µs with this index; about 210 µs with the routers included). Every route's path starts with
literal text (``/api/v1/agents/`` for ``/api/v1/agents/{name}/heartbeat``), so the first three
segments of a request's path (``/api/v1/agents``) tell which routes can match it at all.

:class:`RouteIndex` sits where the application's router starts matching. It keeps, per first
three segments, a router holding those routes and, in their places, the routes whose literal
start is shorter (the mount ``/static``), which could match paths of any key. A request is
matched within its group exactly as the whole list would match it (the routes left out cannot
match its path); a path no route of its group matches, fully or by path alone (405), goes
through the application's own router, so 404s and slash redirects answer as FastAPI answers
them.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRouter
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

KEY_SEGMENTS = 3
"""``/api/v1/agents`` of ``/api/v1/agents/{name}/heartbeat``."""


def key_of(path: str) -> str:
    """The first :data:`KEY_SEGMENTS` segments of ``path``, with their slashes."""
    return "/".join(path.split("/", KEY_SEGMENTS + 1)[: KEY_SEGMENTS + 1])


def route_key(route: BaseRoute) -> str | None:
    """The key every path this route can match has, or None when it can match paths of many
    keys (its literal start is shorter, or it is a kind of route whose paths we do not know)."""
    if isinstance(route, Route):  # APIRoute is one
        path_format = route.path_format
    elif isinstance(route, Mount):
        path_format = route.path_format + "/{path}"  # a mount matches below its path
    else:
        return None
    literal, brace, _ = path_format.partition("{")
    key = key_of(literal)
    if not brace:
        return key
    # With parameters, the key is known only if the literal text completes its segments.
    return key if literal.startswith(key + "/") and key.count("/") == KEY_SEGMENTS else None


class RouteIndex:
    """The application router's matching, by group (see the module's docstring)."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self.groups: dict[str, APIRouter] = {}
        self.indexed = 0

    def rebuild(self) -> None:
        routes = list(self.router.routes)
        keys = [route_key(route) for route in routes]
        groups: dict[str, APIRouter] = {}
        for key in dict.fromkeys(key for key in keys if key is not None):
            members = [r for r, k in zip(routes, keys, strict=True) if k is None or k == key]
            # No slash redirects and no 404 of its own: a path it does not match goes through
            # the whole router, which answers those.
            groups[key] = APIRouter(routes=members, redirect_slashes=False, default=self.router.app)
        self.groups = groups
        self.indexed = len(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if len(self.router.routes) != self.indexed:  # routes are only ever added
                self.rebuild()
            group = self.groups.get(key_of(scope["path"]))
            if group is not None:
                # The application's router, as the whole list's matching would leave it.
                scope.setdefault("router", self.router)
                await group.app(scope, receive, send)
                return
        await self.router.app(scope, receive, send)


def index_routes(app: FastAPI) -> RouteIndex:
    """Match ``app``'s requests through a :class:`RouteIndex`. Its routes must be its own, not
    included routers (:func:`add_routes`): an included router is one route that can match any
    path, so it would be in every group."""
    index = RouteIndex(app.router)
    index.rebuild()
    app.router.middleware_stack = index.__call__
    app.state.route_index = index
    return index


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """``router``'s routes as ``app``'s own, as if declared on it: ``include_router`` would add
    one route that matches through all of them, which :class:`RouteIndex` cannot see into."""
    app.router.routes.extend(router.routes)
