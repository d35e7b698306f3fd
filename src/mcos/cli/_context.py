"""What every CLI command shares: finding the fleet, the URL and the token; HTTP; output."""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
import orjson

from mcos.client.errors import ApiError, Unreachable
from mcos.errors import McosError
from mcos.fleet import FLEET_FILENAME

if TYPE_CHECKING:
    from mcos.client.sync import Client as McosClient

TOKEN_FILE = Path(".mcos") / "operator.token"
T = TypeVar("T")


def config_home() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "mcos"


def remember_fleet(folder: Path) -> None:
    """Make ``folder`` the fleet the CLI uses when no other is given (like a current context)."""
    home = config_home()
    home.mkdir(parents=True, exist_ok=True)
    (home / "current-fleet").write_text(str(folder.resolve()) + "\n")


def find_fleet_dir(explicit: str | None) -> Path | None:
    if explicit:
        path = Path(explicit)
        return path if path.is_dir() else path.parent
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / FLEET_FILENAME).is_file():
            return folder
    remembered = config_home() / "current-fleet"
    if remembered.is_file():
        folder = Path(remembered.read_text().strip())
        if (folder / FLEET_FILENAME).is_file():
            return folder
    return None


def fail(message: str, *, code: int = 1, field: str | None = None) -> NoReturn:
    """The one way a command reports an error: one clear line on stderr, non-zero exit."""
    where = f" (field: {field})" if field else ""
    click.echo(f"error: {message}{where}", err=True)
    sys.exit(code)


@dataclass
class Client:
    """The CLI's way to the control plane: :class:`mcos.client.Client`, whose errors end the
    command with the server's message (and field) on stderr."""

    url: str
    token: str | None
    as_json: bool = False
    _api: McosClient | None = field(default=None, init=False, repr=False)

    @property
    def api(self) -> McosClient:
        """Made on first use (a command that fails before asking anything starts no thread)."""
        if self._api is None:
            from mcos.client.sync import Client as McosClient  # not for `mcos --help`

            # No retries: a person is waiting, and is told at once that the server is down.
            self._api = McosClient(self.url, self.token, timeout=30, retries=0)
            ctx = click.get_current_context(silent=True)
            if ctx is not None:  # closed when the command ends, however it ends
                ctx.find_root().call_on_close(self._api.close)
            else:
                atexit.register(self._api.close)
        return self._api

    def call(self, ask: Callable[[McosClient], T], path: str) -> T:
        """``ask(api)``, or its error (the one shape) and a non-zero exit."""
        try:
            return ask(self.api)
        except ApiError as exc:
            fail(exc.message, field=exc.field)
        except Unreachable as exc:
            if exc.answered is not None:
                fail(exc.detail or f"HTTP {exc.answered} from {path}: {exc.message}")
            import httpx2

            if isinstance(exc.__cause__, httpx2.ConnectError):
                fail(f"cannot reach the control plane at {self.url}: is `mcos serve` running?")
            fail(f"request to {self.url}{path} failed: {exc.__cause__ or exc}")

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
    ) -> Any:
        return self.call(lambda api: api.request(method, path, json, params), path)

    def get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, params=clean)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("POST", path, json=body)

    def download(self, path: str) -> bytes:
        return self.call(lambda api: api.download(path), path)

    def upload(self, path: str, content: bytes, content_type: str, params: dict[str, Any]) -> Any:
        return self.call(lambda api: api.upload(path, content, content_type, params), path)


pass_client = click.make_pass_decorator(Client)


def make_client(fleet: str | None, url: str | None, token: str | None) -> Client:
    folder = find_fleet_dir(fleet)
    if url is None:
        if folder is None:
            fail(
                "no fleet found: pass --fleet DIR, set MCOS_FLEET, or run `mcos init DIR`; or "
                "pass --url and --token to reach a control plane (MCOS_URL, MCOS_TOKEN)"
            )
        from mcos.fleet.loader import load_fleet  # only without --url: it builds the schema

        try:
            url = load_fleet(folder / FLEET_FILENAME).control_plane.url
        except McosError as exc:
            fail(exc.message.splitlines()[0] + " — run `mcos fleet check` for details")
    if token is None and folder is not None and (folder / TOKEN_FILE).is_file():
        token = (folder / TOKEN_FILE).read_text().strip()
    return Client(url.rstrip("/"), token)


def counted(n: int, noun: str) -> str:
    """``1 agent``, ``2 agents``: a count with its noun."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def emit_json(value: Any) -> None:
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    cells = [[("" if c is None else str(c)) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def json_option(fn: Any) -> Any:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(fn)


def log_format_option(fn: Any) -> Any:
    return click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        help="text lines, or one JSON object per line (default: MCOS_LOG_FORMAT, else text).",
    )(fn)


def tune_garbage_collector() -> None:
    """Collect less often, and never scan what start-up allocated: for the long-running
    processes (``mcos serve``, ``mcos run``), once everything is imported.

    Measured (bench/ingest.py): with Python's default thresholds the collector took a third of
    the CPU of each heartbeat and paused the server for up to 79 ms; this costs a few MB. In the
    runner (bench/runtime.py) it took a tenth of the CPU at 20 agents; see docs/benchmarks.md.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
