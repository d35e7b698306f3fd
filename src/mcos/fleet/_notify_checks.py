"""Checks of ``[[notify]]`` that span sections of a fleet file, and its environment warnings.

Each problem is ``(key, message, fix)``; :func:`mcos.fleet.loader.cross_check` adds the line.
A secret variable that is not set is no problem of the file (the file may be checked on another
machine than the control plane's): :func:`missing_secrets` lists them for ``mcos fleet check``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcos.fleet.schema import Fleet

Problem = tuple[str, str, str]


def notify_problems(fleet: Fleet) -> list[Problem]:
    problems: list[Problem] = []
    twice = {name for name, n in Counter(c.name for c in fleet.notify).items() if n > 1}
    credentials = {a.credential: a.name for a in fleet.agents if a.credential}
    for i, channel in enumerate(fleet.notify):
        key = f"notify[{i}]"
        if channel.name in twice:
            problems.append(
                (
                    f"{key}.name",
                    f"notify channel {channel.name!r} is listed twice",
                    "give each channel its own name",
                )
            )
        for field, variable in channel.secrets().items():
            if variable in credentials:
                problems.append(
                    (
                        f"{key}.{field}",
                        f"{variable} is agent {credentials[variable]!r}'s model credential",
                        "use a variable of its own for the channel's secret",
                    )
                )
    return problems


def missing_secrets(fleet: Fleet, environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """``(channel, message)`` for each secret variable a channel names that is not set."""
    found = []
    for channel in fleet.notify:
        for field, variable in channel.secrets().items():
            if not environ.get(variable):
                found.append(
                    (
                        channel.name,
                        f"notify channel {channel.name!r} ({channel.kind}) reads {field} "
                        f"{variable}, which is not set here, so nothing can be sent through "
                        f"it; export {variable} in the environment `mcos serve` runs in",
                    )
                )
    return found
