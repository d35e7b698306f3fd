"""What every CLI command shares: finding the fleet, the URL and the token; HTTP; output."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click
import httpx
import orjson

from mcos.errors import McosError
from mcos.fleet.loader import FLEET_FILENAME, load_fleet

TOKEN_FILE = Path(".mcos") / "operator.token"


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
    url: str
    token: str | None
    as_json: bool = False

    def send(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """The answer whatever its status; only a transport failure ends the command here."""
        sent = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            return httpx.request(
                method, self.url + path, headers=sent | (headers or {}), timeout=30, **kwargs
            )
        except httpx.ConnectError:
            fail(f"cannot reach the control plane at {self.url}: is `mcos serve` running?")
        except httpx.HTTPError as exc:
            fail(f"request to {self.url}{path} failed: {exc}")

    @staticmethod
    def check(response: httpx.Response, path: str) -> httpx.Response:
        """``response`` if it succeeded; else its error (the one shape) and a non-zero exit."""
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                fail(error["message"], field=error.get("field"))
            except (ValueError, KeyError, TypeError):
                fail(f"HTTP {response.status_code} from {path}: {response.text[:200]}")
        return response

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.check(self.send(method, path, **kwargs), path).json()

    def get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, params=clean)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("POST", path, json=body)


pass_client = click.make_pass_decorator(Client)


def make_client(fleet: str | None, url: str | None, token: str | None) -> Client:
    folder = find_fleet_dir(fleet)
    if url is None:
        if folder is None:
            fail(
                "no fleet found: pass --fleet DIR, set MCOS_FLEET, or run `mcos init DIR`; or "
                "pass --url and --token to reach a control plane (MCOS_URL, MCOS_TOKEN)"
            )
        try:
            url = load_fleet(folder / FLEET_FILENAME).control_plane.url
        except McosError as exc:
            fail(exc.message.splitlines()[0] + " — run `mcos fleet check` for details")
    if token is None and folder is not None and (folder / TOKEN_FILE).is_file():
        token = (folder / TOKEN_FILE).read_text().strip()
    return Client(url.rstrip("/"), token)


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
