"""The public client of Mission Control: what an agent built with any framework uses to join.

``AsyncClient`` (asyncio) and ``Client`` (the same methods, blocking) talk to the control plane
over its REST API and answer with the models of :mod:`mcos.contract.agent`; ``ApiError`` is the
control plane's refusal (its code, message and field), ``Unreachable`` its silence (down, 5xx,
429). The runtime, the CLI and the demo use this client too. See ``README.md`` beside this file.
"""

from mcos.client.aio import AsyncClient, is_duplicate
from mcos.client.errors import ApiError, Unreachable
from mcos.client.outbox import Outbox
from mcos.client.sync import Client

__all__ = ["ApiError", "AsyncClient", "Client", "Outbox", "Unreachable", "is_duplicate"]
