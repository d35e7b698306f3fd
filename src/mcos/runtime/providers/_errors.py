"""How an HTTP failure from a model API becomes one of the three :class:`ProviderError` kinds.

Shared by every provider (and the scripted one), so a 429 or a 529 means the same thing to the
loop whichever API produced it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from mcos.runtime.providers.base import (
    PermanentProviderError,
    ProviderError,
    RateLimited,
    TransientProviderError,
)

DEFAULT_RETRY_AFTER = 60.0
"""Seconds to wait after a 429 that did not say how long."""

# 408 and 409 are what both official SDKs retry besides 429 and 5xx; we mirror their judgement
# because we switched their retries off.
_TRANSIENT_4XX = frozenset({408, 409})


def retry_after_seconds(headers: Mapping[str, str]) -> float:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after``; 60 when neither is usable."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            seconds = float(raw.strip()) * scale
        except ValueError:
            continue  # an HTTP date or garbage: neither API sends dates, so use the default
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return DEFAULT_RETRY_AFTER


def provider_message(body: object, fallback: str) -> str:
    """The API's own ``error.message`` from an error body (whole or already unwrapped)."""
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
    return fallback


def error_for_status(
    provider: str, status: int, message: str, headers: Mapping[str, str] | None = None
) -> ProviderError:
    """The error the loop should see for an HTTP ``status`` answered by ``provider``."""
    if status == 429:
        retry_after = retry_after_seconds(headers or {})
        return RateLimited(
            f"{provider} rate limit (HTTP 429): {message}; retry after {retry_after:g}s",
            retry_after=retry_after,
        )
    if status >= 500 or status in _TRANSIENT_4XX:
        return TransientProviderError(
            f"{provider} unavailable (HTTP {status}): {message}", status=status
        )
    return PermanentProviderError(
        f"{provider} rejected the request (HTTP {status}): {message}", status=status
    )
