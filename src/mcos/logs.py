"""How ``mcos serve`` and ``mcos run`` log: plain text or one JSON object per line, with the id
of the request a line was logged for, and no secret in any line.

The request id lives in a context variable that :class:`mcos.api.observe.RequestObserver` sets
for the duration of each request, so every line logged while that request is handled (the
access line too, which uvicorn writes from inside the response) carries it.

Secrets are kept out at their source; :func:`redact` is the defence in depth every formatter
here applies to the finished line: bearer tokens, mcos tokens and session secrets, and API keys
written as ``api_key=...`` become ``[redacted]``.
"""

from __future__ import annotations

import logging
import logging.config
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from uvicorn.logging import AccessFormatter, DefaultFormatter

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")

REQUEST_ID: ContextVar[str | None] = ContextVar("mcos_request_id", default=None)
"""The id of the HTTP request being handled, if any (set per request by the server)."""

REDACTED = "[redacted]"
_SECRETS = re.compile(
    r"(?P<token>mcos_[aors]_)[A-Za-z0-9_\-]+"
    r"|(?P<scheme>\b(?:Bearer|Basic)\s+)[^\s\"',;]+"
    r"|(?P<key>\b(?:api[_-]?key|x-api-key|authorization|password|secret)[\"']?\s*[:=]\s*[\"']?"
    r"(?:(?:Bearer|Basic)\s+)?)[^\s\"',;]+",
    re.IGNORECASE,
)


def _hide(match: re.Match[str]) -> str:
    kept = match.group("token") or match.group("scheme") or match.group("key") or ""
    return kept + REDACTED


def redact(text: str) -> str:
    """``text`` with anything shaped like a credential replaced by ``[redacted]``."""
    return _SECRETS.sub(_hide, text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message; the request id on a line logged
    while a request was handled; the exception, if any; and an access line's parts."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            line["request_id"] = request_id
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            if len(record.args) == 5:  # uvicorn's: client, method, path, HTTP version, status
                client, method, path, _, status = record.args
                line |= {"client": client, "method": method, "path": path, "status": status}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return redact(orjson.dumps(line, default=str).decode())


class TextFormatter(logging.Formatter):
    """Plain lines, redacted."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class UvicornText(DefaultFormatter):
    """uvicorn's own look for its lines, redacted."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class UvicornAccessText(AccessFormatter):
    """uvicorn's access line, redacted, ending with the request id."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = REQUEST_ID.get()
        return redact(f"{line} request_id={request_id}" if request_id else line)


def log_config(
    log_format: LogFormat,
    level: str,
    *,
    text: str = "%(asctime)s %(levelname)s %(name)s: %(message)s",
    datefmt: str | None = None,
) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for a process: every logger to stderr (uvicorn's access
    line to stdout, as uvicorn does), at ``level``, in ``log_format``."""
    level = level.upper()
    if log_format == "json":
        formatters: dict[str, Any] = {
            name: {"()": f"{__name__}.JsonFormatter"} for name in ("plain", "uvicorn", "access")
        }
    else:
        formatters = {
            "plain": {"()": f"{__name__}.TextFormatter", "fmt": text, "datefmt": datefmt},
            "uvicorn": {"()": f"{__name__}.UvicornText", "fmt": "%(levelprefix)s %(message)s"},
            "access": {
                "()": f"{__name__}.UvicornAccessText",
                "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
            },
        }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": formatters,
        "handlers": {
            name: {
                "class": "logging.StreamHandler",
                "formatter": name,
                "stream": "ext://sys.stdout" if name == "access" else "ext://sys.stderr",
            }
            for name in ("plain", "uvicorn", "access")
        },
        "loggers": {
            "uvicorn": {"handlers": ["uvicorn"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
        },
        "root": {"handlers": ["plain"], "level": level},
    }


def configure_logging(log_format: LogFormat, level: str, **text: Any) -> None:
    """Set up this process's logging (``mcos run``; ``mcos serve`` hands the same dictionary
    to uvicorn)."""
    logging.config.dictConfig(log_config(log_format, level, **text))
