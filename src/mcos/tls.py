"""The one TLS trust every HTTPS client of ours uses: the operating system's CA store.

Decided here, once, so that trusting a private CA (a TLS-inspecting proxy, a control plane
behind an internal certificate) is one setting for the control-plane client, the provider
SDKs' pools, the notify channels, the service watch and Microsoft Graph alike:

- ``SSL_CERT_FILE`` (a PEM bundle) or ``SSL_CERT_DIR``, when set, replace the system store, as
  they do for OpenSSL and for ``httpx2`` on its own;
- otherwise Linux's store, through OpenSSL's default paths; when this Python's compiled-in paths
  do not exist (a Python built elsewhere, as uv's are), the usual distribution bundles;
- on macOS and Windows the system's own verifier, through ``truststore``, since a Python there
  often has no CA file of its own.

A caller that trusts one more CA for itself (``MCOS_MAIL_CA_FILE``) adds it with
``extra_ca_file``; it is added to the store, never instead of it.
"""

from __future__ import annotations

import os
import ssl
import sys
from pathlib import Path

CA_FILE_CANDIDATES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine, Arch
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  # Fedora, RHEL
    "/etc/pki/tls/cert.pem",
    "/etc/ssl/ca-bundle.pem",  # openSUSE
    "/etc/ssl/cert.pem",
)
"""Where Linux distributions keep their CA bundle, for a Python whose OpenSSL looks elsewhere."""


def trust_context(extra_ca_file: Path | str | None = None) -> ssl.SSLContext:
    """A client TLS context that verifies certificates and host names against the system's
    CAs (see the module's docstring), plus ``extra_ca_file`` when given.

    Raises ``OSError`` or ``ssl.SSLError`` when a named file cannot be read as PEM.
    """
    context = _system_context()
    if extra_ca_file is not None:
        context.load_verify_locations(cafile=str(extra_ca_file))
    return context


def _system_context() -> ssl.SSLContext:
    if cafile := os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=cafile)
    if capath := os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=capath)
    if sys.platform in ("darwin", "win32"):
        import truststore

        return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context = ssl.create_default_context()
    paths = ssl.get_default_verify_paths()
    if paths.cafile is None and paths.capath is None:  # neither compiled-in path exists
        found = next((f for f in CA_FILE_CANDIDATES if os.path.isfile(f)), None)
        if found is not None:
            context.load_verify_locations(cafile=found)
    return context
