"""The public client of Mission Control: what an agent built with any framework uses to join.

``AsyncClient`` (asyncio) and ``Client`` (the same methods, blocking) talk to the control plane
over its REST API and answer with the models of :mod:`mcos.contract.agent`; ``ApiError`` is the
control plane's refusal (its code, message and field), ``Unreachable`` its silence (down, 5xx,
429). The runtime, the CLI and the demo use this client too. See ``README.md`` beside this file.

The clients load on first use, so importing the errors alone (every CLI command does) does not
pay for the HTTP library and the models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcos.client.errors import ApiError, Unreachable

if TYPE_CHECKING:
    from mcos.client.aio import AsyncClient, is_duplicate
    from mcos.client.outbox import Outbox
    from mcos.client.sync import Client

__all__ = ["ApiError", "AsyncClient", "Client", "Outbox", "Unreachable", "is_duplicate"]

_LAZY = {
    "AsyncClient": "mcos.client.aio",
    "is_duplicate": "mcos.client.aio",
    "Outbox": "mcos.client.outbox",
    "Client": "mcos.client.sync",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mcos.client' has no attribute {name!r}")
