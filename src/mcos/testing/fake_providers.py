"""A fake Anthropic and OpenAI at the wire, for driving the real SDKs without the internet.

One Starlette app serves both APIs, answering from a
:class:`~mcos.runtime.providers.simulated.Script`: ``POST /v1/messages`` (Anthropic; SDK
``base_url`` is the server root) and ``POST /v1/chat/completions`` (OpenAI; SDK ``base_url`` is
root + ``/v1``). Streaming is refused with a 400. For tests and people driving a running fake:

- ``GET /_fake/requests``: every call so far (key, model, tools offered, message count,
  status, rule, last user text, tool results); ``DELETE`` forgets them.
- ``PUT /_fake/script``: replace the script (JSON, the ``Script.from_dict`` format).

:class:`FakeProviderServer` runs it in a background thread for a test;
``python -m mcos.testing.fake_providers --port N [--script FILE]`` runs it in the foreground.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import sys
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import TracebackType

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcos.errors import InvalidInput, error_body
from mcos.runtime.providers.simulated import Script
from mcos.testing._fake_anthropic import create_message
from mcos.testing._fake_openai import create_chat_completion
from mcos.testing._fake_server import FakeState, RecordedRequest

__all__ = ["FakeProviderServer", "FakeState", "RecordedRequest", "create_app", "main"]

_STARTUP_TIMEOUT = 10.0


def create_app(
    state: FakeState | None = None, *, on_startup: Callable[[], None] | None = None
) -> Starlette:
    """The fake's ASGI app; ``state`` holds its script and request log."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if on_startup is not None:
            on_startup()
        yield

    app = Starlette(
        routes=[
            Route("/v1/messages", create_message, methods=["POST"]),
            Route("/v1/chat/completions", create_chat_completion, methods=["POST"]),
            Route("/_fake/requests", _list_requests, methods=["GET"]),
            Route("/_fake/requests", _clear_requests, methods=["DELETE"]),
            Route("/_fake/script", _put_script, methods=["PUT"]),
        ],
        lifespan=lifespan,
    )
    app.state.fake = state if state is not None else FakeState()
    return app


async def _list_requests(request: Request) -> JSONResponse:
    state: FakeState = request.app.state.fake
    return JSONResponse({"requests": [r.to_json() for r in state.requests]})


async def _clear_requests(request: Request) -> JSONResponse:
    state: FakeState = request.app.state.fake
    state.clear_requests()
    return JSONResponse({"requests": []})


async def _put_script(request: Request) -> JSONResponse:
    state: FakeState = request.app.state.fake
    try:
        data = json.loads(await request.body())
    except ValueError as exc:
        body = error_body("malformed_json", f"the script is not valid JSON: {exc}")
        return JSONResponse(body, status_code=400)
    try:
        script = Script.from_dict(data)
    except InvalidInput as exc:
        return JSONResponse(exc.body(), status_code=exc.status)
    state.set_script(script)
    return JSONResponse({"rules": len(script.rules)})


class FakeProviderServer:
    """The fake on a free 127.0.0.1 port in a background thread; use it as a context manager.

    The socket listens before the thread starts, so requests made right after ``__enter__``
    wait in the backlog rather than failing. With ``tls_certfile`` (a PEM of the key and the
    certificate chain, such as ``trustme`` writes) it speaks HTTPS.
    """

    def __init__(
        self,
        script: Script | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls_certfile: str | None = None,
    ) -> None:
        self.state = FakeState(script)
        self._started = threading.Event()
        self._socket = _listening_socket(host, port)
        bound_host, bound_port = self._socket.getsockname()[:2]
        scheme = "https" if tls_certfile else "http"
        self.url = f"{scheme}://{bound_host}:{bound_port}"
        app = create_app(self.state, on_startup=self._started.set)
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="on",
            loop="asyncio",
            http="h11",
            ws="none",
            ssl_certfile=tls_certfile,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, args=([self._socket],), name="fake-providers", daemon=True
        )

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request answered so far, oldest first."""
        return self.state.requests

    def clear_requests(self) -> None:
        self.state.clear_requests()

    def set_script(self, script: Script) -> None:
        self.state.set_script(script)

    def start(self) -> FakeProviderServer:
        self._thread.start()
        if not self._started.wait(_STARTUP_TIMEOUT):
            self.stop()
            raise RuntimeError(f"the fake provider server at {self.url} did not start")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(_STARTUP_TIMEOUT)
        self._socket.close()

    def __enter__(self) -> FakeProviderServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


SCRIPTS = Path(__file__).parent / "scripts"
"""Scripts shipped with mcos, by name (``seed-day``: the seed's fleet on a scripted day)."""


def script_path(name_or_path: str) -> Path:
    shipped = SCRIPTS / f"{name_or_path}.toml"
    return shipped if shipped.is_file() else Path(name_or_path)


def _seconds(text: str) -> int:
    """A whole number of seconds, at least 1."""
    try:
        seconds = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds") from None
    if seconds < 1:
        raise argparse.ArgumentTypeError(f"{seconds} is not at least 1 second")
    return seconds


def main(argv: list[str] | None = None) -> int:
    """Run the fake in the foreground until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m mcos.testing.fake_providers",
        description="A fake Anthropic + OpenAI API server answering from a script.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8790, help="0 picks a free port")
    parser.add_argument(
        "--script",
        help="a .toml or .json script, or the name of one shipped with mcos "
        f"({', '.join(sorted(p.stem for p in SCRIPTS.glob('*.toml')))}); default: no rules",
    )
    parser.add_argument(
        "--keep-alive",
        type=_seconds,
        default=5,
        help="seconds an idle connection is kept open (uvicorn's default, 5); a benchmark whose "
        "clients idle between phases sets it longer, as the real APIs keep theirs",
    )
    args = parser.parse_args(argv)
    try:
        script = Script.from_file(script_path(args.script)) if args.script else Script()
    except InvalidInput as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    sock = _listening_socket(args.host, args.port)
    host, port = sock.getsockname()[:2]
    print(f"fake providers on http://{host}:{port}", flush=True)
    print(f"  anthropic base_url: http://{host}:{port}", flush=True)
    print(f"  openai base_url:    http://{host}:{port}/v1", flush=True)
    print(f"  requests: GET http://{host}:{port}/_fake/requests", flush=True)
    app = create_app(FakeState(script))
    config = uvicorn.Config(app, log_level="info", ws="none", timeout_keep_alive=args.keep_alive)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
