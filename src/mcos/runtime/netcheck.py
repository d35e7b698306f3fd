"""Checked fetches: the URL read strictly, the host resolved once, the control plane asked with
every address, and the connection made only to an address it allowed.

Invariants:

- **Checked is connected.** The host is resolved here, once per hop; the control plane is asked
  (``http.fetch`` with the host, the port and every address) and the request goes to one of
  those addresses by IP, the name carried in the ``Host`` header and, for https, in the TLS
  server name (``sni_hostname``), so the certificate is still verified for the name. A DNS
  answer that changes between the check and the connection (rebinding) changes nothing.
- **Every hop is a fetch.** Redirects are followed here, at most :data:`MAX_REDIRECTS`, each
  parsed, resolved and asked again: a redirect to a blocked address is refused like a direct
  fetch.
- **Bad URLs are answers.** Anything but a plain ``http(s)://host[:port]/path`` (user info, a
  port out of range, a malformed IPv6 literal, backslashes, spaces) is a :class:`ToolError` the
  model reads, never an exception out of the tool.
- **Nothing is shared between fetches**: no cookies, no kept-alive connection (one verified for
  one name must not carry a request for another name on the same address), no proxy from the
  environment (it would resolve the name itself).

:func:`checked_address` is the resolve-and-ask step alone, for anything else that connects on an
agent's behalf (the sandbox's egress proxy, for every CONNECT).
"""

from __future__ import annotations

import asyncio
import re
import socket
import weakref
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx2
import orjson

from mcos.client import ApiError
from mcos.contract.vocab import ActionKind
from mcos.domain.hosts import BadHost, canonical_host, ip_literal, parse_port
from mcos.runtime.client import AgentLink
from mcos.runtime.permission import Parked, ToolError, ask_before_acting
from mcos.tls import trust_context

MAX_REDIRECTS = 5
MAX_BODY_BYTES = 2_000_000
"""Bytes of a response read; the rest is not downloaded (the model sees less still)."""
MAX_ADDRESSES = 32
TIMEOUT_SECONDS = 20.0
_SCHEMES = {"http": 80, "https": 443}
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^#]*)(?:#.*)?$", re.DOTALL)
_REDIRECTS = {301, 302, 303, 307, 308}


@dataclass(frozen=True)
class Target:
    """One URL as it will be fetched."""

    scheme: str
    host: str
    """Canonical: an address in standard form (IPv6 without brackets), or the IDNA name."""
    port: int
    path: str
    """The path and query, starting with ``/``."""

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _SCHEMES[self.scheme] else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.authority}{self.path}"

    def via(self, address: str) -> str:
        """The URL with the host replaced by ``address``: where the connection really goes."""
        host = f"[{address}]" if ":" in address else address
        return f"{self.scheme}://{host}:{self.port}{self.path}"


def parse_url(text: str) -> Target:
    """``text`` as a :class:`Target`, or a :class:`ToolError` saying what is wrong with it."""
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text):
        raise ToolError(
            f"{text!r} has spaces or control characters; give a URL such as 'https://example.org/'"
        )
    match = _URL.match(text)
    if match is None:
        raise ToolError(f"{text!r} is not a URL; give one such as 'https://example.org/page'")
    scheme, authority, path = match.group(1).lower(), match.group(2), match.group(3)
    if scheme not in _SCHEMES:
        raise ToolError(f"{text!r}: only http and https URLs are fetched, not {scheme}")
    if "@" in authority:
        raise ToolError(f"{text!r} carries a user name or password; they are never sent")
    if "\\" in authority or "%" in authority:
        raise ToolError(f"{text!r} has an escaped or backslashed host; write the host plainly")
    host, port = _split_authority(authority, text)
    try:
        host = canonical_host(host)
    except BadHost as exc:
        raise ToolError(f"{text!r} cannot be fetched: {exc}") from None
    if not path.startswith("/"):
        path = "/" + path  # "http://host?q=1" asks for "/?q=1"
    return Target(scheme, host, port or _SCHEMES[scheme], path)


def _split_authority(authority: str, text: str) -> tuple[str, int | None]:
    if not authority:
        raise ToolError(f"{text!r} names no host")
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise ToolError(f"{text!r} opens an IPv6 address with '[' and never closes it")
        host, rest = authority[: end + 1], authority[end + 1 :]
    elif ":" in authority:
        host, _, port = authority.rpartition(":")
        rest = ":" + port
        if ":" in host:
            raise ToolError(f"{text!r}: an IPv6 address in a URL is written in brackets, [::1]")
    else:
        host, rest = authority, ""
    if rest and not rest.startswith(":"):
        raise ToolError(f"{text!r} has {rest!r} after the host")
    if not host or host == "[]":
        raise ToolError(f"{text!r} names no host")
    if rest in ("", ":"):
        return host, None
    try:
        return host, parse_port(rest[1:], text)
    except BadHost as exc:
        raise ToolError(str(exc)) from None


async def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` (canonical) resolves to now, in the resolver's order."""
    if ip_literal(host) is not None:
        return [host]
    loop = asyncio.get_running_loop()
    try:
        answers = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), TIMEOUT_SECONDS
        )
    except (OSError, TimeoutError) as exc:
        raise ToolError(f"could not resolve {host}: {exc}") from None
    addresses: list[str] = []
    for family, _, _, _, sockaddr in answers:
        if family in (socket.AF_INET, socket.AF_INET6):
            address = str(sockaddr[0]).split("%", 1)[0]
            if address not in addresses:
                addresses.append(address)
    if not addresses:
        raise ToolError(f"{host} resolves to no IP address")
    return addresses[:MAX_ADDRESSES]


async def checked_addresses(link: AgentLink, host: str, port: int, *, reason: str) -> list[str]:
    """Resolve ``host`` and ask the control plane once with every address; all of them, if
    allowed, in the order to try them. Raises as :func:`checked_address`."""
    try:
        canonical = canonical_host(host)
    except BadHost as exc:
        raise ToolError(f"cannot connect to {host!r}: {exc}") from None
    addresses = await resolve(canonical, port)
    action = {
        "kind": ActionKind.HTTP_FETCH,
        "host": canonical,
        "port": port,
        "addresses": addresses,
        "reason": reason[:2_000],
    }
    try:
        await ask_before_acting(link, action)
    except ApiError as exc:  # a question the control plane would not take (not a refusal)
        raise ToolError(f"the control plane refused: {exc.message}") from None
    return addresses


async def checked_address(link: AgentLink, host: str, port: int, *, reason: str) -> str:
    """The one IP address to connect to for ``host:port`` on ``link``'s agent's behalf.

    ``host`` is as written (a name, or an address in any notation, IPv6 with or without
    brackets). It is resolved now and the control plane is asked, once, with every address;
    connect to the address returned and to nothing else (not to the name). Raises
    :class:`ToolError` when it is refused or cannot be resolved, :class:`Parked` when it needs
    an approval, ``Unreachable`` when the control plane cannot be asked (connect to nothing).
    """
    return (await checked_addresses(link, host, port, reason=reason))[0]


async def fetch(
    link: AgentLink, url: str, *, reason: str, approved: dict[str, Any] | None = None
) -> str:
    """GET ``url`` for the agent, checking every hop; the answer as the model reads it.

    ``approved`` is an action an operator approved (a parked fetch, carried out): its first hop
    goes to the approved addresses without asking again, and its redirects are reported, not
    followed (each would need its own approval).
    """
    target = parse_url(url)
    hops: list[str] = []
    for _ in range(MAX_REDIRECTS + 1):
        if approved is not None and not hops:
            addresses = _approved_addresses(approved, target)
        else:
            addresses = await _checked_hop(link, target, reason, hops)
        status, location, body = await _get(target, addresses)
        if status not in _REDIRECTS or location is None:
            shown = f"[fetched {target.url} after redirects]\n" if hops else ""
            return f"HTTP {status}\n{shown}{body}"
        hops.append(target.url)
        try:
            following = parse_url(urljoin(target.url, location))
        except ToolError as exc:
            raise ToolError(
                f"{target.url} redirects to {location!r}, which is not fetched: {exc}"
            ) from None
        if approved is not None:
            return (
                f"HTTP {status}: {target.url} redirects to {following.url} (not followed: an "
                "approval covers one address; fetch that URL to ask for it)"
            )
        target = following
    raise ToolError(f"more than {MAX_REDIRECTS} redirects from {url}: {' -> '.join(hops)}")


async def _checked_hop(link: AgentLink, target: Target, reason: str, hops: list[str]) -> list[str]:
    said = f"{reason}; redirected from {hops[-1]}" if hops else reason
    try:
        return await checked_addresses(link, target.host, target.port, reason=said)
    except Parked as parked:
        if hops:  # once approved, the call resumes at the URL it was redirected to
            parked.arguments = _arguments(target.url)
            parked.reason = f"{target.url} (redirected from {hops[-1]}): {parked.reason}"
        raise
    except ToolError as exc:
        if hops:  # the same kind of error (a refusal stays a refusal), saying where it led
            raise type(exc)(f"{hops[-1]} redirects to {target.url}: {exc}") from None
        raise


def _approved_addresses(approved: dict[str, Any], target: Target) -> list[str]:
    if (approved.get("host"), approved.get("port")) != (target.host, target.port):
        raise ToolError(
            f"approval was for {approved.get('host')}:{approved.get('port')}, not {target.url}"
        )
    addresses = [str(a) for a in approved.get("addresses") or ()]
    if not addresses:
        raise ToolError("the approved fetch names no address to connect to; fetch it again")
    return addresses


def _arguments(url: str) -> str:
    return orjson.dumps({"url": url}).decode()


async def _get(target: Target, addresses: list[str]) -> tuple[int, str | None, str]:
    """GET ``target`` from the first of ``addresses`` that accepts a connection."""
    headers = {
        "Host": target.authority,
        "User-Agent": "mcos-fetch",
        "Accept": "*/*",
        "Accept-Encoding": "identity",
    }
    extensions: dict[str, Any] = {"timeout": _TIMEOUT.as_dict()}
    if target.scheme == "https" and ip_literal(target.host) is None:
        extensions["sni_hostname"] = target.host  # the certificate is checked for the name
    error: Exception | None = None
    for address in addresses:
        request = httpx2.Request("GET", target.via(address), headers=headers, extensions=extensions)
        try:
            response = await _transport().handle_async_request(request)
        except (httpx2.ConnectError, httpx2.ConnectTimeout) as exc:
            error = exc  # every address was checked: the next one may be tried
            continue
        except httpx2.HTTPError as exc:
            raise ToolError(f"could not fetch {target.url}: {exc!r}") from None
        try:
            body = await _read(response)
        except httpx2.HTTPError as exc:
            raise ToolError(f"could not read {target.url}: {exc!r}") from None
        finally:
            await response.aclose()
        return response.status_code, response.headers.get("location"), body
    raise ToolError(f"could not connect to {target.url} ({', '.join(addresses)}): {error!r}")


async def _read(response: httpx2.Response) -> str:
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_BODY_BYTES:
            break
    data = b"".join(chunks)[:MAX_BODY_BYTES]
    try:
        return data.decode(response.charset_encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return data.decode("utf-8", errors="replace")


_TIMEOUT = httpx2.Timeout(TIMEOUT_SECONDS)
_TRANSPORTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx2.AsyncHTTPTransport] = (
    weakref.WeakKeyDictionary()
)


def _transport() -> httpx2.AsyncHTTPTransport:
    """One transport per event loop, without a client: so no cookie jar, and no kept-alive
    connection (``max_keepalive_connections=0``) that a request for another name could reuse."""
    loop = asyncio.get_running_loop()
    if loop not in _TRANSPORTS:
        _TRANSPORTS[loop] = httpx2.AsyncHTTPTransport(
            verify=trust_context(),
            limits=httpx2.Limits(max_connections=100, max_keepalive_connections=0),
        )
    return _TRANSPORTS[loop]
