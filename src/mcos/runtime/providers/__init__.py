"""Model providers: one neutral interface (:mod:`.base`), one implementation per API.

:func:`make_provider` builds the provider an agent's ``provider`` field names. The SDK modules
are imported only when their provider is made: the Anthropic SDK alone takes seconds to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcos.errors import InvalidInput
from mcos.runtime.providers.base import (
    ModelReply,
    ModelRequest,
    PermanentProviderError,
    Provider,
    ProviderError,
    RateLimited,
    ToolCall,
    ToolSpec,
    TransientProviderError,
    Turn,
    Usage,
)
from mcos.runtime.providers.simulated import Script, SimulatedProvider, Step

if TYPE_CHECKING:
    import httpx2

KNOWN_PROVIDERS = ("anthropic", "openai", "simulated")


__all__ = [
    "KNOWN_PROVIDERS",
    "ModelReply",
    "ModelRequest",
    "PermanentProviderError",
    "Provider",
    "ProviderError",
    "RateLimited",
    "Script",
    "SimulatedProvider",
    "Step",
    "ToolCall",
    "ToolSpec",
    "TransientProviderError",
    "Turn",
    "Usage",
    "make_provider",
    "provider_pool",
]


def provider_pool() -> httpx2.AsyncClient:
    """A connection pool for a provider SDK: the one TLS trust (:mod:`mcos.tls`), and a
    timeout long enough for a long reply."""
    import httpx2

    from mcos.client.connections import Transport
    from mcos.tls import trust_context

    return httpx2.AsyncClient(timeout=600, transport=Transport(verify=trust_context()))


def make_provider(
    provider: str,
    *,
    api_key: str | None,
    base_url: str | None = None,
    http_client: httpx2.AsyncClient | None = None,
    script: Script | None = None,
) -> Provider:
    """The provider named ``provider``, speaking with ``api_key`` only.

    ``simulated`` needs no key (when given, rules can match on it) and ignores ``base_url`` and
    ``http_client``; ``script`` is for it alone. Raises :class:`InvalidInput` for an unknown name
    or a missing key.
    """
    if provider == "simulated":
        return SimulatedProvider(script, key=api_key or "simulated")
    if provider not in KNOWN_PROVIDERS:
        raise InvalidInput(
            f"unknown provider {provider!r}; use one of {', '.join(KNOWN_PROVIDERS)}",
            field="provider",
        )
    if not api_key:
        raise InvalidInput(
            f"no API key for provider {provider!r}; set the environment variable the agent's "
            "credential names",
            field="credential",
        )
    if provider == "anthropic":
        from mcos.runtime.providers.anthropic import AnthropicProvider

        return AnthropicProvider(api_key, base_url=base_url, http_client=http_client)
    from mcos.runtime.providers.openai import OpenAIProvider

    return OpenAIProvider(api_key, base_url=base_url, http_client=http_client)
