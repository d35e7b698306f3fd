"""Settings of the runner's mail readers, from ``MCOS_*`` environment variables.

The fleet file says which mailboxes exist; these say where this machine reaches Microsoft's
services and whom it trusts for TLS, so a test server (or a national cloud, or a TLS-inspecting
proxy) can stand in without a change to the fleet file. Every field is documented: a test fails
when one is not.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from mcos.mail.message import MailboxError
from mcos.tls import trust_context


class MailSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MCOS_", extra="ignore")

    m365_login_url: str = Field(
        "https://login.microsoftonline.com",
        pattern=r"^https://[^/\s]+/?$",
        description="Where Microsoft 365 accounts get their app-only token (the Entra ID "
        "authority host, https only; the tenant is appended). Change it for a national cloud or "
        "a test server.",
    )
    graph_url: str = Field(
        "https://graph.microsoft.com/v1.0",
        pattern=r"^https://[^/\s]+(/[^\s]*)?$",
        description="The Microsoft Graph REST root Microsoft 365 mailboxes are read and sent "
        "through (https only). Change it for a national cloud or a test server.",
    )
    mail_ca_file: Path | None = Field(
        None,
        description="A PEM file of CA certificates trusted for mail servers and Microsoft's "
        "endpoints besides the system's (a test server, a TLS-inspecting proxy). Unset: the "
        "system's CAs only.",
    )

    def ssl_context(self) -> ssl.SSLContext:
        """The one trust of :mod:`mcos.tls` plus :attr:`mail_ca_file`; a missing or bad file is
        a config error that names the variable."""
        if self.mail_ca_file is None:
            return trust_context()
        try:
            return trust_context(self.mail_ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise MailboxError(
                "config",
                f"MCOS_MAIL_CA_FILE={self.mail_ca_file}: not a readable PEM file of CA "
                f"certificates ({exc})",
            ) from exc
