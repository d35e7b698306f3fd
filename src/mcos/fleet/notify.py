"""``[[notify]]``: how Mission Control reaches the operator, and what each channel carries.

A channel is an SMTP mailbox (``email``), an HTTP endpoint (``webhook``: Slack-compatible or a
generic JSON body signed with HMAC-SHA256) or a Telegram bot (``telegram``). Secrets are named
by environment variable only (``password_env``, ``secret_env``, ``url_env``, ``token_env``),
read by the control plane when it sends; ``mcos fleet check`` warns when one is not set.

``quiet_hours = "22:00-07:00"`` (in the fleet's time zone) holds everything but a P0 until the
quiet hours end: held, never dropped.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, time, timedelta
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import ConfigDict, Field, field_validator, model_validator

from mcos.fleet.model import FleetModel

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,31}$"
ENV_VAR_PATTERN = r"^[A-Z][A-Z0-9_]{1,127}$"
QUIET_PATTERN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")

Carry = Literal["p0", "p1", "approvals", "committee", "silent", "budget", "briefing", "mail_failed"]
"""``p0``/``p1``: an incident of that severity waiting for confirmation; ``approvals``: an
approval waiting (incident confirmations go with ``p0``/``p1``); ``committee``: a committee
opened or decided; ``silent``: an agent still silent after supervision nudged it (the
escalation); ``budget``: an agent paused by its budget; ``briefing``: the morning briefing
written; ``mail_failed``: an agent's mail could not be sent."""
CARRIES: tuple[Carry, ...] = (
    "p0",
    "p1",
    "approvals",
    "committee",
    "silent",
    "budget",
    "briefing",
    "mail_failed",
)
Tls = Literal["ssl", "starttls", "none"]
"""``ssl``: TLS from the first byte (465); ``starttls``: upgraded (587); ``none``: plain text,
allowed only to a loopback host (a local test server or relay)."""

Name = Annotated[str, Field(pattern=NAME_PATTERN)]
EnvVar = Annotated[str, Field(pattern=ENV_VAR_PATTERN)]
Address = Annotated[str, Field(min_length=3, max_length=320, pattern=r"^[^@\s<>]+@[^@\s<>]+$")]


class _Strict(FleetModel):
    model_config = ConfigDict(populate_by_name=True)


def loopback(host: str) -> bool:
    """Whether ``host`` is this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(url: str) -> str | None:
    """Why a channel may not post to ``url`` (not http(s); clear text to another host)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{url!r} is not an http(s) URL; use one such as 'https://hooks.slack.com/...'"
    if parts.scheme == "http" and not loopback(parts.hostname):
        return (
            f"{parts.hostname} would receive the notification in clear text; use https "
            "(plain http is only for a loopback test receiver)"
        )
    return None


class QuietHours:
    """A daily window, ``start`` included, ``end`` excluded; it may run past midnight."""

    def __init__(self, text: str) -> None:
        found = QUIET_PATTERN.match(text)
        if found is None:
            raise ValueError(
                f'quiet_hours {text!r} is not a window; write it as "22:00-07:00" (24-hour '
                "HH:MM-HH:MM, in the fleet's time zone)"
            )
        h1, m1, h2, m2 = (int(g) for g in found.groups())
        self.start, self.end = time(h1, m1), time(h2, m2)
        if self.start == self.end:
            raise ValueError(f"quiet_hours {text!r} is empty; give a start and a different end")

    def held_until(self, now: datetime, zone: ZoneInfo) -> datetime | None:
        """When the quiet hours around ``now`` end (aware, in ``zone``), or ``None`` outside."""
        local = now.astimezone(zone)
        at = local.time().replace(tzinfo=None)
        if self.start < self.end:
            inside = self.start <= at < self.end
        else:
            inside = at >= self.start or at < self.end
        if not inside:
            return None
        end = datetime.combine(local.date(), self.end, tzinfo=zone)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=zone)
        return end


class _Channel(_Strict):
    name: Name
    """How the channel is named in the dashboard, events, ``mcos notify test NAME``."""
    carries: tuple[Carry, ...] = Field(min_length=1)
    """What it carries: p0, p1, approvals, committee, silent, budget, briefing, mail_failed."""
    quiet_hours: str | None = None
    """``"22:00-07:00"`` in the fleet's time zone: all but a P0 is held until they end."""

    @field_validator("quiet_hours")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        if value is not None:
            QuietHours(value)
        return value

    @field_validator("carries")
    @classmethod
    def _once(cls, value: tuple[Carry, ...]) -> tuple[Carry, ...]:
        twice = sorted({c for c in value if value.count(c) > 1})
        if twice:
            raise ValueError(f"{twice[0]!r} is listed twice in carries; list each kind once")
        return value

    def quiet(self) -> QuietHours | None:
        return QuietHours(self.quiet_hours) if self.quiet_hours else None

    def secrets(self) -> dict[str, str]:
        """The environment variables this channel reads, by the key that names them."""
        return {}


class EmailChannel(_Channel):
    kind: Literal["email"]
    """``email``: mail to people over SMTP."""
    host: str = Field(min_length=1, max_length=253)
    """The SMTP server (``smtp.office365.com``, a local relay)."""
    port: int = Field(465, ge=1, le=65535)
    """The SMTP port: 465 with ``ssl``, 587 with ``starttls``."""
    tls: Tls = "ssl"
    """``ssl``, ``starttls``, or ``none`` (a loopback relay only)."""
    user: str | None = Field(None, min_length=1, max_length=320)
    """The SMTP login; unset for a relay that takes mail without one."""
    password_env: EnvVar | None = None
    """The environment variable holding the SMTP password (with ``user``)."""
    sender: Address = Field(alias="from")
    """The From address."""
    to: tuple[Address, ...] = Field(min_length=1)
    """The addresses that receive it."""

    @model_validator(mode="after")
    def _safe(self) -> EmailChannel:
        if self.tls == "none" and not loopback(self.host):
            raise ValueError(
                f'channel {self.name!r}: tls = "none" sends mail (and the password) to '
                f'{self.host} in clear text; use "ssl" or "starttls" (plain text is only for a '
                "loopback test server)"
            )
        if (self.user is None) != (self.password_env is None):
            raise ValueError(
                f"channel {self.name!r}: user and password_env go together; give both, or "
                "neither for a relay that needs no login"
            )
        return self

    def secrets(self) -> dict[str, str]:
        return {"password_env": self.password_env} if self.password_env else {}


class WebhookChannel(_Channel):
    kind: Literal["webhook"]
    """``webhook``: an HTTP POST (Slack's incoming webhooks, or a signed JSON body)."""
    format: Literal["slack", "signed"]
    """``slack``: an incoming-webhook body ``{"text": ...}``; ``signed``: generic JSON with
    ``X-MCOS-Signature`` (HMAC-SHA256, see ``mcos/notify/README.md``)."""
    url: str | None = Field(None, max_length=2000)
    """Where to POST; a Slack webhook URL is itself a secret, so prefer ``url_env`` for it."""
    url_env: EnvVar | None = None
    """The environment variable holding the URL (instead of ``url``)."""
    secret_env: EnvVar | None = None
    """For ``signed``: the environment variable holding the signing secret."""

    @model_validator(mode="after")
    def _target(self) -> WebhookChannel:
        if (self.url is None) == (self.url_env is None):
            raise ValueError(
                f"channel {self.name!r}: give exactly one of url and url_env (url_env for a "
                "URL that is itself a secret, as Slack's are)"
            )
        if self.url is not None:
            problem = url_problem(self.url)
            if problem is not None:
                raise ValueError(f"channel {self.name!r}: {problem}")
        if self.format == "signed" and self.secret_env is None:
            raise ValueError(
                f"channel {self.name!r}: a signed webhook needs its secret; set secret_env to "
                "the environment variable that holds it"
            )
        if self.format == "slack" and self.secret_env is not None:
            raise ValueError(
                f"channel {self.name!r}: Slack webhooks are not signed; drop secret_env or "
                'use format = "signed"'
            )
        return self

    def secrets(self) -> dict[str, str]:
        found = {"url_env": self.url_env, "secret_env": self.secret_env}
        return {k: v for k, v in found.items() if v is not None}


class TelegramChannel(_Channel):
    kind: Literal["telegram"]
    """``telegram``: a Telegram bot writing to a chat."""
    token_env: EnvVar
    """The environment variable holding the bot's token (from @BotFather)."""
    chat_id: str = Field(pattern=r"^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$")
    """The chat the bot writes to: a number (``"123456789"``) or a channel's ``@name``."""
    api_url: str = "https://api.telegram.org"
    """The Bot API's base URL (a local Bot API server, or a test double)."""

    @field_validator("chat_id", mode="before")
    @classmethod
    def _number_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("api_url")
    @classmethod
    def _api(cls, value: str) -> str:
        problem = url_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value.rstrip("/")

    def secrets(self) -> dict[str, str]:
        return {"token_env": self.token_env}


NotifyChannel = Annotated[
    EmailChannel | WebhookChannel | TelegramChannel, Field(discriminator="kind")
]
AnyChannel = EmailChannel | WebhookChannel | TelegramChannel
