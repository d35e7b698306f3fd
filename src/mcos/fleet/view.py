"""What ``GET /api/v1/fleet`` shows each caller of the fleet file, and its version.

A fleet file names secrets by environment variable only (``credential``, ``password_env``,
``token_env``...); the few places a value could still be one are never shown: the database URL
(a password in it), a webhook ``url`` (a Slack URL is itself a secret), and any
``user:password@`` in a URL (the loader refuses those, see :func:`secret_problems`).

- An operator sees the whole fleet (those values left out).
- A runner sees its machine: every agent of the machine in full, every other agent as the
  roster only (name, role, title, machine, model, supervisor, channels) marked
  ``runtime = "external"`` — to that runner they are, it never runs them — and the services,
  mailboxes and deploy targets of its machine; nothing of the operator's notify channels, the
  routing rules, schedules or the value ledger, which the control plane alone uses.
- An agent sees the same view with only itself in full.

The view is a fleet document :class:`~mcos.fleet.schema.Fleet` validates, so a runner builds
its fleet from it exactly as from the file. Its version is a hash of that document: a runner
sees a new version only when what it sees changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import orjson

from mcos.fleet.schema import Fleet

ROSTER_FIELDS = (
    "name",
    "display_name",
    "role",
    "title",
    "machine",
    "provider",
    "model",
    "context_window",
    "supervisor",
    "channels",
)
"""What a runner or agent sees of an agent it does not run."""
SERVER_ONLY = ("notify", "routing", "schedules", "supervision", "value_ledger", "costs")
"""Sections the control plane alone acts on: never sent to a runner or an agent."""


def fleet_view(
    fleet: Fleet, *, machine: str | None = None, agent: str | None = None
) -> dict[str, Any]:
    """The fleet document for an operator (neither given), a machine's runner, or an agent."""
    doc: dict[str, Any] = fleet.model_dump(mode="json", exclude_none=True)
    doc["control_plane"].pop("database_url", None)
    for channel in doc.get("notify", ()):
        if "url" in channel:
            channel["url"] = "(set in fleet.toml; not shown)"
    if machine is None and agent is None:
        return doc
    for key in SERVER_ONLY:
        doc.pop(key, None)
    full = {
        a.name
        for a in fleet.agents
        if (agent is not None and a.name == agent) or (agent is None and a.machine == machine)
    }
    doc["agents"] = [a if a["name"] in full else _roster(a) for a in doc["agents"]]
    doc["services"] = [
        s
        for s in doc.get("services", ())
        if s["machine"] == machine and (agent is None or fleet.owner_of(_service(fleet, s)) in full)
    ]
    mail = doc.get("mail", {})
    mail["accounts"] = [a for a in mail.get("accounts", ()) if a["owner"] in full]
    doc["deploy_targets"] = [t for t in doc.get("deploy_targets", ()) if t["machine"] == machine]
    return doc


def view_version(doc: dict[str, Any]) -> str:
    """A short hash of the document: equal documents, equal versions, whatever the key order."""
    canonical = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:32]


def fleet_from_view(doc: dict[str, Any]) -> Fleet:
    """The :class:`Fleet` a view describes (raises pydantic's ValidationError if it is not one)."""
    return Fleet.model_validate(doc)


def secret_problems(fleet: Fleet) -> list[tuple[str, str, str]]:
    """Values in the fleet file that would be secrets: a password in a URL. (key, what, fix)."""
    found: list[tuple[str, str, str]] = []
    database = fleet.control_plane.database_url
    if database and _has_password(database):
        found.append(
            (
                "control_plane.database_url",
                "the database URL holds a password, and fleet.toml is shown to runners and "
                "operators",
                "drop the password here and set MCOS_DATABASE_URL (or PGPASSWORD, or a "
                ".pgpass file) where `mcos serve` runs",
            )
        )
    for key, url in _urls(fleet):
        if _has_password(url):
            found.append(
                (
                    key,
                    "the URL holds a user:password, and fleet.toml is shown to runners",
                    "take the password out of the URL: fleet.toml names secrets by "
                    "environment variable only",
                )
            )
    return found


def _urls(fleet: Fleet) -> Iterable[tuple[str, str]]:
    for i, agent in enumerate(fleet.agents):
        if agent.base_url:
            yield f"agents[{i}].base_url", agent.base_url
    for i, service in enumerate(fleet.services):
        url = getattr(service, "url", None)
        if isinstance(url, str):
            yield f"services[{i}].url", url


def _has_password(url: str) -> bool:
    try:
        return bool(urlsplit(url).password)
    except ValueError:
        return False


def _roster(agent: dict[str, Any]) -> dict[str, Any]:
    return {k: agent[k] for k in ROSTER_FIELDS if k in agent} | {"runtime": "external"}


def _service(fleet: Fleet, dumped: dict[str, Any]) -> Any:
    return fleet.service(dumped["name"])
