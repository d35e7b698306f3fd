"""The control-plane ASGI application: ``create_app(settings)``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from starlette.routing import Route

from mcos import __version__, telemetry
from mcos.api.body import HAND_PARSED
from mcos.api.errors import install_error_handlers
from mcos.api.headers import SecurityHeaders
from mcos.api.limits import BodyLimit, RouteLimit
from mcos.api.metrics import Metrics, metrics_router
from mcos.api.observe import RequestObserver
from mcos.api.otlp import TRACES_PATH, too_large
from mcos.api.otlp import router as otlp_router
from mcos.api.reload import reload_fleet
from mcos.api.responses import JSON
from mcos.api.routes import (
    agents,
    artifacts,
    briefing,
    committees,
    events,
    legal,
    mail,
    messages,
    notify,
    operators,
    orchestration,
    policy,
    registry,
    reports,
    runtime,
    schedules,
    services,
    tasks,
    tokens,
)
from mcos.api.routes import fleet as fleet_route
from mcos.api.routing import add_routes, index_routes
from mcos.api.session import allowed_origins
from mcos.contract.errors import MEANING, ErrorBody, statuses_of
from mcos.contract.fleet import Health
from mcos.contract.mcp import JsonRpcAnswer
from mcos.dashboard.routes import install_dashboard
from mcos.fleet.registry import load_registry
from mcos.fleet_database import open_database
from mcos.mcp.http import OPENAPI as MCP_OPENAPI
from mcos.mcp.http import PATH as MCP_PATH
from mcos.mcp.http import McpEndpoint
from mcos.notify.dispatcher import NotifyDispatcher
from mcos.replication import Leadership, PostgresFanout
from mcos.services import agents as agent_service
from mcos.services import notify as notify_service
from mcos.services import operators as operator_service
from mcos.services import schedules as schedule_service
from mcos.services.approvals import expire_approvals
from mcos.services.store import Store
from mcos.services.supervision import supervise
from mcos.services.tokens import TokenCache
from mcos.settings import Settings
from mcos.storage.writer import Writer, write_once
from mcos.stream import Broker

log = logging.getLogger(__name__)
ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}


async def _sweep_liveness(store: Store, every: float, leadership: Leadership) -> None:
    while True:
        await asyncio.sleep(every)
        if not await asyncio.to_thread(leadership.leads):
            continue  # another replica sweeps
        try:
            await store.write(agent_service.sweep_liveness, store.fleet)
            await store.write(expire_approvals)
            await store.write(supervise, store.fleet)
        except Exception:
            log.exception("liveness sweep failed")


async def _run_schedules(store: Store, every: float, leadership: Leadership) -> None:
    """Fire what fell due, one unit per schedule; then flag scheduled tasks never started."""
    while True:
        await asyncio.sleep(every)
        if not await asyncio.to_thread(leadership.leads):
            continue  # another replica runs them
        for schedule in store.fleet.schedules:
            try:
                await store.write(
                    schedule_service.tick, store.fleet, schedule.name, timedelta(seconds=every)
                )
            except Exception:
                log.exception("schedule %s failed", schedule.name)
        try:
            await store.write(schedule_service.flag_not_started, store.fleet)
        except Exception:
            log.exception("checking scheduled tasks failed")


def _reload_on_sighup(store: Store, settings: Settings, cache: TokenCache) -> bool:
    """``kill -HUP`` reloads the fleet file (see :mod:`mcos.api.reload`); only where the loop
    runs in the main thread (``mcos serve``), not under an in-process test client."""
    loop = asyncio.get_running_loop()
    reloading: set[asyncio.Task[bool]] = set()

    def on_hup() -> None:
        task = loop.create_task(reload_fleet(store, settings, cache))
        reloading.add(task)
        task.add_done_callback(reloading.discard)

    try:
        loop.add_signal_handler(signal.SIGHUP, on_hup)
    except (ValueError, RuntimeError, NotImplementedError, AttributeError):
        return False
    return True


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    fleet, db = open_database(settings)
    # Read with the fleet file: a bad registry stops the start as a bad fleet file does.
    try:
        entities = load_registry(settings.fleet)
    except Exception:
        db.dispose()
        raise
    write_once(db, lambda ctx: agent_service.sync_fleet(ctx, fleet))
    with db.reading() as conn:
        for problem in operator_service.escalation_problems(conn, fleet):
            log.warning("%s", problem)
    broker = Broker(max_pending=settings.stream_max_pending)
    # SQLite has one process: publish straight from the writer. PostgreSQL may have several
    # replicas: the fan-out orders this replica's commits with the others' it reads from the
    # log, woken by NOTIFY (see mcos.replication).
    fanout = None if db.is_sqlite else PostgresFanout(db, broker)
    leadership = Leadership(db)
    on_commit = broker.publish_threadsafe if fanout is None else fanout.publish_committed
    metrics = Metrics(broker)
    writer = Writer(
        db, on_commit, max_batch=settings.write_batch_max, observe=metrics.observe_batch
    )
    store = Store(db, writer, fleet)
    scheme = "https" if settings.tls_cert is not None else "http"
    listening = (
        f"{scheme}://{settings.host}:{settings.port}"
        if settings.host and settings.port
        else fleet.control_plane.url
    )
    write_once(db, lambda ctx: notify_service.register_channels(ctx, fleet))
    notifier = NotifyDispatcher(
        store,
        settings.public_url or listening,  # the links in notifications open the dashboard
        tick_seconds=settings.notify_tick_seconds,
        retry=notify_service.Retry(
            timedelta(seconds=settings.notify_retry_base_seconds),
            timedelta(seconds=settings.notify_retry_max_seconds),
        ),
        timeout_seconds=settings.notify_timeout_seconds,
    )

    mcp = McpEndpoint()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        broker.bind(asyncio.get_running_loop())
        broker.last_seq = db.read(lambda conn: db.last_seq(conn))
        writer.start()
        if fanout is not None:
            fanout.start(broker.last_seq)
        sweeper = asyncio.create_task(
            _sweep_liveness(store, settings.liveness_sweep_seconds, leadership)
        )
        scheduler = asyncio.create_task(
            _run_schedules(store, settings.schedule_tick_seconds, leadership)
        )
        notifier.start()
        hup = _reload_on_sighup(store, settings, app.state.token_cache)
        try:
            async with mcp.running():
                yield
        finally:
            if hup:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            await notifier.stop()
            for loop_task in (sweeper, scheduler):
                loop_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await loop_task
            await asyncio.to_thread(writer.stop)
            await asyncio.to_thread(leadership.close)
            if fanout is not None:
                await asyncio.to_thread(fanout.stop)
            db.dispose()
            await asyncio.to_thread(telemetry.flush)

    tracer_provider = telemetry.configure("mcos-serve")
    app = FastAPI(
        title="Mission Control OS",
        version=__version__,
        summary="Control plane for a fleet of autonomous LLM agents.",
        lifespan=lifespan,
        # Request traces when an OTLP endpoint is configured (mcos.telemetry); else FastAPI's
        # telemetry stays off, which costs each request nothing.
        telemetry={
            "tracing": tracer_provider is not None,
            "tracer_provider": tracer_provider,
            "metrics": False,
            "logs": False,
            "auto_configure": False,
        },
        docs_url=None,  # Swagger UI loads from a CDN; the product works offline.
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.registry = entities
    app.state.broker = broker
    app.state.metrics = metrics
    broker.listeners.append(metrics.on_events)
    app.state.token_cache = TokenCache()
    broker.listeners.append(app.state.token_cache.on_events)
    app.state.notify = notifier
    broker.listeners.append(notifier.on_events)
    app.state.allowed_origins = allowed_origins(settings.public_url, listening)
    install_error_handlers(app)
    for router in (
        agents.router,
        tasks.router,
        artifacts.router,
        messages.router,
        events.router,
        reports.router,
        fleet_route.router,
        policy.router,
        runtime.router,
        briefing.router,
        committees.router,
        orchestration.router,
        schedules.router,
        tokens.router,
        operators.router,
        mail.router,
        notify.router,
        registry.router,
        services.router,
        legal.router,
        otlp_router,
        metrics_router(settings.metrics),
    ):
        add_routes(app, router)

    @app.get(
        "/api/v1/health",
        tags=["meta"],
        summary="Liveness of the control plane itself",
        response_model=Health,
    )
    async def health() -> JSON:
        return JSON(
            {
                "status": "ok",
                "version": __version__,
                "fleet": store.fleet.fleet.name,
                "database": "sqlite" if db.is_sqlite else "postgresql",
                "last_seq": broker.last_seq,
                "agents": len(store.fleet.agents),
                # Live streams open on this replica: an operator sees readers pile up (or not).
                "stream_subscribers": len(broker.subscribers),
            }
        )

    # MCP over streamable HTTP: the same tools as `mcos mcp`, each a call to this API.
    app.router.routes.append(Route(MCP_PATH, mcp, methods=["POST"]))
    install_dashboard(app)
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_request_bytes,
        larger=[
            artifacts.upload_limit(settings.artifact_max_bytes),
            RouteLimit(
                "POST", re.compile(re.escape(TRACES_PATH)), settings.otlp_max_bytes, None, too_large
            ),
        ],
    )
    https = settings.tls_cert is not None or bool(
        settings.public_url and settings.public_url.startswith("https://")
    )
    app.add_middleware(SecurityHeaders, https=https)
    # Outermost: every answer carries its request id and is counted, refusals included.
    app.add_middleware(RequestObserver, metrics=metrics)
    finish_openapi(app, [*HAND_PARSED, ErrorBody, JsonRpcAnswer], MCP_OPENAPI)
    index_routes(app)
    return app


def finish_openapi(
    app: FastAPI, models: list[type[BaseModel]], paths: dict[str, Any] | None = None
) -> None:
    """Finish the OpenAPI document: models that routes parse by hand, ``paths`` served by plain
    ASGI apps (``/mcp``), and JSON errors."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema["paths"].update(paths or {})
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in models:
                found = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(found.pop("$defs", {}))
                components[model.__name__] = found
            # Each operation answers the errors its shape implies (mcos.contract.errors) and
            # those its route declares; every one is JSON, even from the stream.
            for operations in schema["paths"].values():
                for method, operation in operations.items():
                    responses = operation["responses"]
                    implied = statuses_of(method, operation, authenticated="security" in operation)
                    for status, response in implied.items():
                        responses.setdefault(status, response)
                    for status, response in responses.items():
                        if int(status) >= 400:
                            response["content"] = {"application/json": {"schema": ERROR_REF}}
                            if response.get("description") == "Validation Error":  # FastAPI's
                                response["description"] = MEANING[int(status)]
                    operation["responses"] = dict(sorted(responses.items()))
            # FastAPI's own error shape, no longer referenced: ours replaced it above.
            for name in ("HTTPValidationError", "ValidationError"):
                components.pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
