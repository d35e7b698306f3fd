"""Reading an ``openclaw.json`` (JSON5): the data, a clear error with its line, and where a key
was, for the import report."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import json5

from mcos.errors import InvalidInput

MAX_CONFIG_BYTES = 4 * 1024 * 1024
"""An OpenClaw config is a few kB; anything this large is not one."""


class OpenClawConfigError(InvalidInput):
    """An OpenClaw config that cannot be read: the file, the line and what is wrong."""

    code = "invalid_openclaw_config"

    def __init__(self, path: Path | str, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}", field=str(path))
        self.path = Path(path)
        self.line = line


def read_config(path: Path) -> tuple[dict[str, Any], str]:
    """The parsed config at ``path`` and its text; :class:`OpenClawConfigError` otherwise."""
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise OpenClawConfigError(path, f"larger than {MAX_CONFIG_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OpenClawConfigError(
            path, "no such file; give the path of openclaw.json (usually ~/.openclaw/)"
        ) from None
    except IsADirectoryError:
        raise OpenClawConfigError(path, "a folder; give the path of openclaw.json in it") from None
    except UnicodeDecodeError:
        raise OpenClawConfigError(path, "not UTF-8 text; is this openclaw.json?") from None
    return parse_config(text, path), text


def parse_config(text: str, path: Path | str = "openclaw.json") -> dict[str, Any]:
    """Parse JSON5 text (comments, trailing commas, unquoted keys) into a dict."""
    try:
        data = json5.loads(text)
    except ValueError as exc:
        # json5 says "<string>:LINE Unexpected "}" at column C"; say it with the file's name.
        raw = str(exc)
        match = re.match(r"^<string>:(\d+)\s+(.*)$", raw, re.DOTALL)
        line = int(match.group(1)) if match else None
        detail = match.group(2) if match else raw
        raise OpenClawConfigError(
            path,
            f"not valid JSON5: {detail} (fix the syntax; JSON5 allows comments, trailing commas "
            "and unquoted keys, not a missing comma or bracket)",
            line,
        ) from None
    except RecursionError:
        raise OpenClawConfigError(path, "nested too deeply to be an OpenClaw config") from None
    if not isinstance(data, dict):
        raise OpenClawConfigError(
            path, f"the top level is a {type(data).__name__}, not an object {{ ... }}", 1
        )
    return data


class Locator:
    """Finds the line a key or value is on, best effort: JSON5 parsers keep no positions, so it
    looks for the key's name (or the value) at or after the line of the enclosing agent."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def agent_line(self, agent_id: str) -> int | None:
        """The line of ``id: "AGENT"`` (``agents.list``) or ``AGENT: {`` (``agents.entries``)."""
        quoted = re.escape(agent_id)
        return self._find(
            rf"""(\bid["']?\s*:\s*["']{quoted}["'])|(^\s*["']?{quoted}["']?\s*:\s*\{{)""", 0
        )

    def key_line(self, key: str, after: int | None = None) -> int | None:
        """The first line at or after ``after`` where ``key:`` is written (quoted or not)."""
        return self._find(rf"""(^|[\s{{,])["']?{re.escape(key)}["']?\s*:""", after or 0)

    def value_line(self, value: str, after: int | None = None) -> int | None:
        """The first line at or after ``after`` holding the string ``value``."""
        return self._find(rf"""["']{re.escape(value)}["']""", after or 0)

    def _find(self, pattern: str, after: int) -> int | None:
        regex = re.compile(pattern)
        start = max(after - 1, 0)
        for index in range(start, len(self.lines)):
            if regex.search(self.lines[index]):
                return index + 1
        return None
