"""What every channel kind sends and raises: a delivery, and the error a failed send is."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mcos.notify.content import Notice


class DeliveryError(Exception):
    """A send that did not arrive; the message says why (never a secret)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Delivery:
    id: str
    """Stable across retries (``channel:event_seq``): a receiver de-duplicates on it."""
    notice: Notice
    fleet: str
    event_seq: int | None = None
    event_type: str | None = None


def secret(environ: Mapping[str, str], variable: str) -> str:
    value = environ.get(variable)
    if not value:
        raise DeliveryError(f"{variable} is not set in the control plane's environment")
    return value


def summary(text: str, limit: int = 300) -> str:
    """A receiver's answer, short enough for an error column and a dashboard banner."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
